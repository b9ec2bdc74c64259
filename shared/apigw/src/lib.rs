//! API Gateway's management API: messages posted down the live connections of the relay
//! WebSocket API (Twilio ConversationRelay sessions).

use async_trait::async_trait;
use aws_smithy_types::error::display::DisplayErrorContext;
use switchboard_core::ports::RelayConnections;

/// API Gateway's management API, posting to connections.
pub struct ApiGatewayConnections {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayConnections {
    /// `callback_url`: the WebSocket API stage's `https://` URL.
    pub fn new(sdk: &aws_types::SdkConfig, callback_url: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(callback_url)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

#[async_trait]
impl RelayConnections for ApiGatewayConnections {
    async fn send(&self, connection_id: &str, message: &str) -> anyhow::Result<()> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(aws_smithy_types::Blob::new(message.as_bytes()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))?;
        Ok(())
    }
}
