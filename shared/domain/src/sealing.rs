//! Values a workspace gives us to keep but never show again (its secrets, and next the provider
//! credentials it brings), sealed with AES-256-GCM under a key of the workspace's own: derived
//! from the deployment's key material (a Secrets Manager secret) and the workspace id, so a
//! value sealed for one workspace does not open for another.

use std::sync::Arc;

use crate::webhooks::secrets::SecretBox;

#[derive(Clone)]
pub struct WorkspaceKeys {
    material: Arc<[u8]>,
}

impl std::fmt::Debug for WorkspaceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkspaceKeys")
    }
}

impl WorkspaceKeys {
    pub fn new(material: &[u8]) -> Self {
        Self {
            material: material.into(),
        }
    }

    /// The box of one workspace's values.
    pub fn of(&self, workspace_id: &str) -> SecretBox {
        let purpose = format!("switchboard workspace values v1\0{workspace_id}");
        SecretBox::derive_for(&self.material, purpose.as_bytes())
    }
}

/// Where the deployment's key material comes from. A function that may open a workspace's
/// values but seldom does reads it when first needed, not at every cold start.
#[async_trait::async_trait]
pub trait KeySource: Send + Sync {
    async fn keys(&self) -> anyhow::Result<WorkspaceKeys>;
}

#[async_trait::async_trait]
impl KeySource for WorkspaceKeys {
    async fn keys(&self) -> anyhow::Result<WorkspaceKeys> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_for_its_own_workspace() {
        let keys = WorkspaceKeys::new(b"deployment key material of at least 32 bytes");
        let sealed = keys.of("ws_a").seal("sk-live-123");
        assert!(!sealed.contains("sk-live-123"));
        assert_eq!(keys.of("ws_a").open(&sealed).unwrap(), "sk-live-123");
        assert!(keys.of("ws_b").open(&sealed).is_err());
        assert!(
            WorkspaceKeys::new(b"other key material")
                .of("ws_a")
                .open(&sealed)
                .is_err()
        );
    }
}
