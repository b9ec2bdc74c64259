//! Requests to AWS APIs signed with Signature Version 4, for the services functions ask one or
//! two things of: SQS (send), S3 (put, delete, presigned links), Polly (speak) and Secrets
//! Manager (read). The SDK's client for a service links the service's whole model into every
//! function holding it (S3's alone, with its endpoint rules and checksums, was 0.3 MB of a
//! zipped function, for three operations). DynamoDB, whose items `serde_dynamo` reads, stays on
//! the SDK.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    self, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningInstructions, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::Method;

/// Attempts a request gets while the service answers that it is busy or failing, as the SDK's
/// standard retry mode gives.
const ATTEMPTS: u32 = 3;

/// Error codes that say "later", whatever the status that carries them.
const THROTTLING: [&str; 5] = [
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "SlowDown",
    "RequestTimeout",
];

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The service refused the request as made: sending it again would not help.
    #[error("{service} refused the request ({status}): {detail}")]
    Refused {
        service: &'static str,
        status: u16,
        detail: String,
    },
    /// The service could not be reached, or failed or throttled every attempt.
    #[error("{service} is unavailable: {detail}")]
    Unavailable { service: &'static str, detail: String },
}

/// One service's API at one endpoint, signed for the configuration's region with its
/// credentials. Like the SDK's clients, it is made without checking them: a request without
/// them fails.
pub struct AwsApi {
    service: &'static str,
    /// The region and the endpoint's base URL, without a trailing `/`.
    target: Option<(String, String)>,
    credentials: Option<SharedCredentialsProvider>,
    /// The runtime's client for AWS, taken when the API is made (at cold start).
    http: Result<reqwest::Client, String>,
    timeout: Duration,
    settings: SigningSettings,
}

impl AwsApi {
    /// `service` is the name requests are signed for (`s3`, `polly`, `sqs`); `endpoint` is the
    /// base URL (scheme, host, and any path prefix) when one is given (a local server), else the
    /// service's own host in the configuration's region, `https://<service>.<region>.amazonaws.com`.
    pub fn new(sdk: &aws_types::SdkConfig, service: &'static str, endpoint: Option<&str>, timeout: Duration) -> Self {
        let target = sdk.region().map(|region| {
            let base = endpoint.map_or_else(
                || format!("https://{service}.{region}.amazonaws.com"),
                |endpoint| endpoint.trim_end_matches('/').to_owned(),
            );
            (region.to_string(), base)
        });
        Self {
            service,
            target,
            credentials: sdk.credentials_provider(),
            http: crate::aws_client(Some(crate::AWS_CONNECT_TIMEOUT), None),
            timeout,
            settings: SigningSettings::default(),
        }
    }

    /// S3 signs a path as it is sent (encoded once, not normalised) and the payload's hash in a
    /// header of its own.
    pub fn as_s3(mut self) -> Self {
        self.settings.percent_encoding_mode = PercentEncodingMode::Single;
        self.settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        self.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        self
    }

    /// Sends `method` to `path` (encoded, below the endpoint) with `headers` and `body`, signed;
    /// the answer's body. Busy or failing answers and lost connections are tried again.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Bytes, AwsError> {
        let url = self
            .url(path)
            .map_err(|e| self.failure(None, format!("{e:#}"), false).error)?;
        let mut attempt = 1;
        loop {
            match self.send_once(&method, &url, headers, &body).await {
                Err(Failure { error, retry: true }) if attempt < ATTEMPTS => {
                    tracing::debug!(service = self.service, attempt, %error, "trying again");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(Failure { error, .. }) => return Err(error),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    /// A link to `path` that lets whoever holds it `method` it until `valid_for` has passed.
    pub async fn presign(&self, method: Method, path: &str, valid_for: Duration) -> anyhow::Result<String> {
        let url = self.url(path)?;
        let mut settings = self.settings.clone();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(valid_for);
        let signed = self
            .instructions(
                &method,
                &url,
                &[],
                SignableBody::UnsignedPayload,
                settings,
                SystemTime::now(),
            )
            .await?;
        let mut url = reqwest::Url::parse(&url)?;
        url.query_pairs_mut()
            .extend_pairs(signed.params().iter().map(|(name, value)| (*name, value.as_ref())));
        Ok(url.into())
    }

    /// An operation of a service speaking an AWS JSON protocol (`version` 1.0 or 1.1), named by
    /// its `x-amz-target` (`Service.Operation`): its answer.
    pub async fn call(
        &self,
        version: &str,
        target: &str,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let content_type = format!("application/x-amz-json-{version}");
        let headers = [("content-type", content_type.as_str()), ("x-amz-target", target)];
        let answer = self
            .send(Method::POST, "/", &headers, request.to_string().into())
            .await?;
        serde_json::from_slice(&answer).map_err(|e| AwsError::Unavailable {
            service: self.service,
            detail: format!("an answer to {target} that is not JSON: {e}"),
        })
    }

    fn url(&self, path: &str) -> anyhow::Result<String> {
        let (_, base) = self.target.as_ref().context("no AWS region configured (AWS_REGION)")?;
        Ok(format!("{base}{path}"))
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &Bytes,
    ) -> Result<Bytes, Failure> {
        let signed = self
            .instructions(
                method,
                url,
                headers,
                SignableBody::Bytes(body),
                self.settings.clone(),
                SystemTime::now(),
            )
            .await
            .map_err(|e| self.failure(None, format!("{e:#}"), false))?;
        let http = self
            .http
            .as_ref()
            .map_err(|why| self.failure(None, why.clone(), false))?;
        let mut request = http
            .request(method.clone(), url)
            .timeout(self.timeout)
            .body(body.clone());
        for (name, value) in headers.iter().copied().chain(signed.headers()) {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.failure(None, e.to_string(), true))?;
        let status = response.status();
        let answer = response
            .bytes()
            .await
            .map_err(|e| self.failure(None, e.to_string(), true))?;
        if status.is_success() {
            return Ok(answer);
        }
        let detail = describe(&answer);
        let busy = status.is_server_error()
            || status == http::StatusCode::TOO_MANY_REQUESTS
            || THROTTLING.iter().any(|code| detail.starts_with(&format!("{code}:")));
        Err(self.failure(Some(status.as_u16()), detail, busy))
    }

    /// A failure to report: a refusal when the service answered with a status and it is not
    /// worth trying again, else unavailable.
    fn failure(&self, status: Option<u16>, detail: String, retry: bool) -> Failure {
        let service = self.service;
        let error = match status {
            Some(status) if !retry => AwsError::Refused {
                service,
                status,
                detail,
            },
            _ => AwsError::Unavailable { service, detail },
        };
        Failure { error, retry }
    }

    async fn instructions(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        body: SignableBody<'_>,
        settings: SigningSettings,
        time: SystemTime,
    ) -> anyhow::Result<SigningInstructions> {
        let (region, _) = self.target.as_ref().context("no AWS region configured (AWS_REGION)")?;
        let credentials = self
            .credentials
            .as_ref()
            .context("no AWS credentials configured (AWS_ACCESS_KEY_ID)")?;
        let identity = credentials.provide_credentials().await?.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(self.service)
            .time(time)
            .settings(settings)
            .build()?
            .into();
        let request = SignableRequest::new(method.as_str(), url, headers.iter().copied(), body)?;
        Ok(http_request::sign(request, &params)?.into_parts().0)
    }
}

struct Failure {
    error: AwsError,
    retry: bool,
}

/// Jittered exponential backoff: 50–100 ms, then 100–200 ms.
fn backoff(attempt: u32) -> Duration {
    let base = 50u64 << attempt.saturating_sub(1).min(4);
    Duration::from_millis(base + rand::random_range(0..base))
}

/// `Code: message` of an error answer, in the JSON (`__type`, `message`) or XML (`<Code>`,
/// `<Message>`) services answer with; else the start of the answer as it is.
fn describe(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let (code, message) = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(json) => {
            let field = |names: [&str; 2]| names.iter().find_map(|name| json[name].as_str()).map(str::to_owned);
            let code = field(["__type", "code"]).map(|code| code.rsplit('#').next().unwrap_or_default().to_owned());
            (code, field(["message", "Message"]))
        }
        Err(_) => (element(&text, "Code"), element(&text, "Message")),
    };
    match (code, message) {
        (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
        (None, _) => text.chars().take(200).collect(),
    }
}

/// The text of the first `<name>` element of an XML answer.
fn element(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let length = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + length].to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use aws_credential_types::Credentials;

    use super::*;

    /// The example of Amazon S3's Signature Version 4 documentation: its keys, bucket and day.
    fn example() -> AwsApi {
        let sdk = aws_types::SdkConfig::builder()
            .region(aws_types::region::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "example",
            )))
            .build();
        AwsApi::new(
            &sdk,
            "s3",
            Some("https://examplebucket.s3.amazonaws.com"),
            Duration::from_secs(1),
        )
        .as_s3()
    }

    /// 2013-05-24T00:00:00Z.
    fn example_day() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    #[tokio::test]
    async fn a_request_is_signed_as_s3_documents_it() {
        let api = example();
        let signed = api
            .instructions(
                &Method::GET,
                "https://examplebucket.s3.amazonaws.com/test.txt",
                &[("range", "bytes=0-9")],
                SignableBody::Bytes(b""),
                api.settings.clone(),
                example_day(),
            )
            .await
            .unwrap();
        let authorization = signed.headers().find(|(name, _)| *name == "authorization").unwrap().1;
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[tokio::test]
    async fn a_link_is_presigned_as_s3_documents_it() {
        let api = example();
        let mut settings = api.settings.clone();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(86_400));
        let signed = api
            .instructions(
                &Method::GET,
                "https://examplebucket.s3.amazonaws.com/test.txt",
                &[],
                SignableBody::UnsignedPayload,
                settings,
                example_day(),
            )
            .await
            .unwrap();
        let signature = signed
            .params()
            .iter()
            .find(|(name, _)| *name == "X-Amz-Signature")
            .unwrap();
        assert_eq!(
            signature.1,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[tokio::test]
    async fn a_presigned_link_carries_its_lifetime_and_signature_in_its_query() {
        let link = example()
            .presign(Method::GET, "/recordings/ws_1/call%201", Duration::from_secs(3600))
            .await
            .unwrap();
        let url = reqwest::Url::parse(&link).unwrap();
        assert_eq!(url.path(), "/recordings/ws_1/call%201");
        let query: std::collections::HashMap<_, _> = url.query_pairs().collect();
        assert_eq!(query["X-Amz-Expires"], "3600");
        assert_eq!(query["X-Amz-SignedHeaders"], "host");
        assert!(query["X-Amz-Credential"].starts_with("AKIAIOSFODNN7EXAMPLE/"), "{link}");
        assert_eq!(query["X-Amz-Signature"].len(), 64);
    }

    #[test]
    fn without_an_endpoint_a_service_is_reached_at_its_regional_host() {
        let sdk = aws_types::SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .build();
        let api = AwsApi::new(&sdk, "sqs", None, Duration::from_secs(1));
        assert_eq!(api.url("/").unwrap(), "https://sqs.eu-west-1.amazonaws.com/");
        let local = AwsApi::new(&sdk, "sqs", Some("http://127.0.0.1:5000/"), Duration::from_secs(1));
        assert_eq!(local.url("/").unwrap(), "http://127.0.0.1:5000/");
        let nowhere = AwsApi::new(
            &aws_types::SdkConfig::builder().build(),
            "sqs",
            None,
            Duration::from_secs(1),
        );
        assert!(nowhere.url("/").is_err(), "no region, no endpoint");
    }

    #[test]
    fn error_answers_are_described_by_code_and_message() {
        assert_eq!(
            describe(br#"{"__type":"com.amazonaws.polly#TextLengthExceededException","message":"too long"}"#),
            "TextLengthExceededException: too long"
        );
        assert_eq!(
            describe(
                b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce your rate.</Message></Error>"
            ),
            "SlowDown: Reduce your rate."
        );
        assert_eq!(describe(b"Bad Gateway"), "Bad Gateway");
    }
}
