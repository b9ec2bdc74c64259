//! The files bucket: call recordings, one object per call under `recordings/<workspace>/`, and
//! exports too large to answer inline under `exports/<workspace>/`. Each object is tagged with
//! its retention so the bucket's lifecycle rules delete it on time, and served through
//! presigned links only.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use switchboard_core::ports::{Exports, Recordings, Speech};

/// The tag the bucket's lifecycle rules read.
pub const RETENTION_TAG: &str = "retention-days";

/// Days an export is kept.
const EXPORT_DAYS: u32 = 1;

pub struct S3Files {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Files {
    /// Through a client of `sdk`; path-style addressing when the endpoint is overridden (moto
    /// and other local servers answer no bucket subdomains).
    pub fn new(sdk: &aws_types::SdkConfig, bucket: &str, path_style: bool) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_owned(),
        }
    }

    fn key(workspace_id: &str, call_id: &str) -> String {
        format!("recordings/{workspace_id}/{call_id}")
    }

    async fn presign(&self, key: String, valid_for: Duration) -> anyhow::Result<String> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(valid_for)?)
            .await?;
        Ok(presigned.uri().to_owned())
    }
}

#[async_trait]
impl Recordings for S3Files {
    async fn put(&self, workspace_id: &str, call_id: &str, audio: &Speech, retention_days: u32) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::key(workspace_id, call_id))
            .content_type(audio.content_type)
            .tagging(format!("{RETENTION_TAG}={retention_days}"))
            .body(ByteStream::from(audio.audio.clone()))
            .send()
            .await?;
        Ok(())
    }

    async fn link(&self, workspace_id: &str, call_id: &str, valid_for: Duration) -> anyhow::Result<String> {
        self.presign(Self::key(workspace_id, call_id), valid_for).await
    }

    async fn delete(&self, workspace_id: &str, call_id: &str) -> anyhow::Result<()> {
        // S3 answers a delete of a missing key as done.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(Self::key(workspace_id, call_id))
            .send()
            .await?;
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
        let key = format!("exports/{workspace_id}/{export_id}");
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(content_type)
            .tagging(format!("{RETENTION_TAG}={EXPORT_DAYS}"))
            .body(ByteStream::from(body))
            .send()
            .await?;
        self.presign(key, valid_for).await
    }
}
