//! Mail through Amazon SES (API v2): a plain-text and an HTML part, and any attachments, from
//! the configured sender.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{
    Attachment, AttachmentContentDisposition, AttachmentContentTransferEncoding, Body, Content, Destination,
    EmailContent, Message,
};
use switchboard_core::ports::{Mail, Mailer};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: String, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from,
            configuration_set,
        }
    }
}

fn content(data: &str) -> anyhow::Result<Content> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .context("mail content")
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        let mut message = Message::builder().subject(content(&mail.subject)?).body(
            Body::builder()
                .text(content(&mail.text)?)
                .html(content(&mail.html())?)
                .build(),
        );
        for file in &mail.attachments {
            message = message.attachments(
                Attachment::builder()
                    .file_name(&file.filename)
                    .content_type(&file.content_type)
                    .content_disposition(AttachmentContentDisposition::Attachment)
                    .content_transfer_encoding(AttachmentContentTransferEncoding::Base64)
                    .raw_content(Blob::new(file.content.clone()))
                    .build()
                    .context("mail attachment")?,
            );
        }
        let message = message.build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .with_context(|| format!("SES refused the {} mail", mail.kind))?;
        tracing::info!(kind = %mail.kind, message_id = sent.message_id().unwrap_or_default(), "mail sent through SES");
        Ok(())
    }
}
