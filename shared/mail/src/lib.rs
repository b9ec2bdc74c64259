//! Mail transports. Offline ([`OutboxMailer`]) is the local default: it writes each mail as a
//! JSON file into a folder and logs that it did; on AWS, [`SesMailer`] sends it through Amazon
//! SES. The `mailer` function delivers queued mail through one; mail too large for the queue
//! (with attachments) is sent through one directly.

use std::path::PathBuf;

use anyhow::Context;
use async_trait::async_trait;
use switchboard_core::config::Env;
use switchboard_core::ports::{Mail, Mailer};

pub use self::ses::SesMailer;

mod ses;

/// Which transport delivers mail, and what it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum MailConfig {
    /// Into a folder (`MAIL_OUTBOX_DIR`), or only the log.
    Outbox(Option<PathBuf>),
    /// Amazon SES, from `MAIL_FROM` (a verified identity), with an optional configuration set.
    Ses {
        from: String,
        configuration_set: Option<String>,
    },
}

impl MailConfig {
    pub fn read(env: &mut Env) -> Self {
        match env.optional("MAIL_PROVIDER").as_deref().unwrap_or("outbox") {
            "ses" => MailConfig::Ses {
                from: env.required("MAIL_FROM"),
                configuration_set: env.optional("SES_CONFIGURATION_SET"),
            },
            "outbox" => MailConfig::Outbox(env.optional("MAIL_OUTBOX_DIR").map(PathBuf::from)),
            other => {
                env.problem("MAIL_PROVIDER", format!("`{other}` is not `outbox` or `ses`"));
                MailConfig::Outbox(None)
            }
        }
    }
}

/// Delivers mail into a local folder (or only the log when none is set).
pub struct OutboxMailer {
    dir: Option<PathBuf>,
}

impl OutboxMailer {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        if let Some(dir) = &self.dir {
            tokio::fs::create_dir_all(dir)
                .await
                .with_context(|| format!("creating {}", dir.display()))?;
            let name = format!(
                "{}-{}.json",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                switchboard_core::secret::sha256_hex(&mail.to)[..12].to_owned()
            );
            let path = dir.join(name);
            tokio::fs::write(&path, serde_json::to_vec_pretty(mail)?)
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(kind = %mail.kind, path = %path.display(), "mail written to outbox");
        } else {
            tracing::info!(kind = %mail.kind, "mail accepted (offline mailer without outbox folder)");
        }
        Ok(())
    }
}
