//! The files bucket: call recordings, one object per call under `recordings/<workspace>/`, and
//! exports too large to answer inline under `exports/<workspace>/`. Each object is tagged with
//! its retention so the bucket's lifecycle rules delete it on time, and served through
//! presigned links only.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use switchboard_core::ports::{Exports, Recordings, Speech};
use switchboard_https::aws::AwsApi;

/// The tag the bucket's lifecycle rules read.
pub const RETENTION_TAG: &str = "retention-days";

/// Days an export is kept.
const EXPORT_DAYS: u32 = 1;

/// How long an upload may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What a key's segment keeps unencoded in a path: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub struct S3Files {
    api: AwsApi,
}

impl S3Files {
    /// The bucket at `endpoint` when one is given (moto and other local servers, which answer
    /// no bucket subdomains: the bucket is the path's first segment), else at its own host in
    /// the configuration's region.
    pub fn new(sdk: &aws_types::SdkConfig, bucket: &str, endpoint: Option<&str>) -> Self {
        let base = match endpoint {
            Some(endpoint) => Some(format!("{}/{bucket}", endpoint.trim_end_matches('/'))),
            None => sdk
                .region()
                .map(|region| format!("https://{bucket}.s3.{region}.amazonaws.com")),
        };
        Self {
            api: AwsApi::new(sdk, "s3", base.as_deref(), TIMEOUT).as_s3(),
        }
    }

    fn recording(workspace_id: &str, call_id: &str) -> String {
        path(&["recordings", workspace_id, call_id])
    }

    async fn put_object(&self, path: &str, content_type: &str, retention_days: u32, body: Bytes) -> anyhow::Result<()> {
        let tagging = format!("{RETENTION_TAG}={retention_days}");
        let headers = [("content-type", content_type), ("x-amz-tagging", tagging.as_str())];
        self.api.send(Method::PUT, path, &headers, body).await?;
        Ok(())
    }

    async fn presign(&self, path: &str, valid_for: Duration) -> anyhow::Result<String> {
        self.api.presign(Method::GET, path, valid_for).await
    }
}

/// An object's path below the bucket, each segment encoded.
fn path(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|segment| format!("/{}", utf8_percent_encode(segment, SEGMENT)))
        .collect()
}

#[async_trait]
impl Recordings for S3Files {
    async fn put(&self, workspace_id: &str, call_id: &str, audio: &Speech, retention_days: u32) -> anyhow::Result<()> {
        let body = Bytes::from(audio.audio.clone());
        self.put_object(
            &Self::recording(workspace_id, call_id),
            audio.content_type,
            retention_days,
            body,
        )
        .await
    }

    async fn link(&self, workspace_id: &str, call_id: &str, valid_for: Duration) -> anyhow::Result<String> {
        self.presign(&Self::recording(workspace_id, call_id), valid_for).await
    }

    async fn delete(&self, workspace_id: &str, call_id: &str) -> anyhow::Result<()> {
        // S3 answers a delete of a missing key as done.
        let path = Self::recording(workspace_id, call_id);
        self.api.send(Method::DELETE, &path, &[], Bytes::new()).await?;
        Ok(())
    }
}

#[async_trait]
impl Exports for S3Files {
    async fn put_export(
        &self,
        workspace_id: &str,
        export_id: &str,
        body: Vec<u8>,
        content_type: &str,
        valid_for: Duration,
    ) -> anyhow::Result<String> {
        let path = path(&["exports", workspace_id, export_id]);
        self.put_object(&path, content_type, EXPORT_DAYS, Bytes::from(body))
            .await?;
        self.presign(&path, valid_for).await
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_types::region::Region;

    use super::*;

    fn sdk() -> aws_types::SdkConfig {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        aws_types::SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    #[tokio::test]
    async fn on_aws_links_name_the_buckets_own_host_and_each_segment_of_the_key_encoded() {
        let files = S3Files::new(&sdk(), "switchboard-files", None);
        let link = files.link("ws_1", "call 1/x", Duration::from_secs(60)).await.unwrap();
        assert!(
            link.starts_with("https://switchboard-files.s3.eu-west-1.amazonaws.com/recordings/ws_1/call%201%2Fx?"),
            "{link}"
        );
        assert!(link.contains("X-Amz-Expires=60"), "{link}");
    }

    #[tokio::test]
    async fn at_a_local_endpoint_the_bucket_is_the_paths_first_segment() {
        let files = S3Files::new(&sdk(), "files", Some("http://127.0.0.1:5000/"));
        let link = files.link("ws_1", "call_1", Duration::from_secs(60)).await.unwrap();
        assert!(
            link.starts_with("http://127.0.0.1:5000/files/recordings/ws_1/call_1?"),
            "{link}"
        );
    }
}
