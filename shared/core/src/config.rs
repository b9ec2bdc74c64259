//! Reading configuration from environment variables into typed structs at cold start.
//!
//! Every missing or malformed variable is reported at once, so a bad deployment fails on its
//! first invocation with a message naming all of them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug)]
pub struct ConfigError(BTreeMap<&'static str, String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: ")?;
        for (i, (name, problem)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{name} {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where variables come from: the process, or a function in tests.
type Source = Box<dyn Fn(&str) -> Option<String>>;

/// Collects variables and their problems; `finish` fails if any were found.
pub struct Env {
    source: Source,
    problems: BTreeMap<&'static str, String>,
}

impl Env {
    pub fn process() -> Self {
        Self::from_fn(|k| std::env::var(k).ok())
    }

    pub fn from_fn(source: impl Fn(&str) -> Option<String> + 'static) -> Self {
        Self {
            source: Box::new(source),
            problems: BTreeMap::new(),
        }
    }

    fn raw(&self, name: &str) -> Option<String> {
        (self.source)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&mut self, name: &'static str) -> String {
        self.raw(name).unwrap_or_else(|| {
            self.problems.insert(name, "is required".into());
            String::new()
        })
    }

    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.raw(name)
    }

    /// One of `allowed` (`default` when unset); a problem otherwise.
    pub fn one_of(&mut self, name: &'static str, default: &str, allowed: &[&str]) -> String {
        let value = self.optional(name).unwrap_or_else(|| default.to_owned());
        if !allowed.contains(&value.as_str()) {
            self.problem(name, format!("must be one of {allowed:?}, not {value:?}"));
        }
        value
    }

    pub fn parsed_or<T: FromStr>(&mut self, name: &'static str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|e| {
                self.problems.insert(name, format!("is invalid ({e}): {v:?}"));
                default
            }),
        }
    }

    /// Records a problem with a variable.
    pub fn problem(&mut self, name: &'static str, problem: impl Into<String>) {
        self.problems.insert(name, problem.into());
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.problems))
        }
    }
}

/// Whether the deployment is a developer's machine or a real one. Production refuses
/// conveniences meant for loopback development (plain-http public URLs, insecure cookies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentMode {
    Local,
    Production,
}

impl FromStr for DeploymentMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Self::Local),
            "production" => Ok(Self::Production),
            _ => Err("expected local or production".into()),
        }
    }
}
