//! The function's own tags, added to every metric and log at flush time.
//!
//! Some facts arrive only after start-up (the account id from registration, the runtime from
//! `platform.initStart`, the qualified ARN from the first INVOKE), so tags are assembled
//! when a payload is built rather than when a point is recorded.

use crate::config::Config;

#[derive(Debug, Clone)]
pub struct FunctionTags {
    name: String,
    region: String,
    memory_mb: u64,
    account_id: Option<String>,
    runtime: Option<String>,
    qualifier: Option<String>,
    service: String,
    env: Option<String>,
    version: Option<String>,
    user_tags: Vec<String>,
    exclude: Vec<String>,
}

/// The architecture this binary was built for, named as Lambda names it.
pub fn architecture() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "x86_64"
    }
}

impl FunctionTags {
    pub fn new(config: &Config) -> Self {
        FunctionTags {
            name: config.function.name.clone(),
            region: config.function.region.clone(),
            memory_mb: config.function.memory_mb,
            account_id: None,
            runtime: None,
            qualifier: None,
            service: config
                .service
                .clone()
                .unwrap_or_else(|| config.function.name.to_lowercase()),
            env: config.env.clone(),
            version: config.version.clone(),
            user_tags: config.tags.clone(),
            exclude: config.exclude_tags.clone(),
        }
    }

    pub fn set_account_id(&mut self, account_id: Option<String>) {
        if account_id.is_some() {
            self.account_id = account_id;
        }
    }

    pub fn set_runtime(&mut self, runtime: Option<String>) {
        if runtime.is_some() {
            self.runtime = runtime;
        }
    }

    /// Learns the account and qualifier (alias or version) from an invoked function ARN.
    pub fn set_invoked_arn(&mut self, arn: &str) {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() >= 7 {
            if self.account_id.is_none() && !parts[4].is_empty() {
                self.account_id = Some(parts[4].to_string());
            }
            self.qualifier = parts
                .get(7)
                .filter(|q| **q != "$LATEST")
                .map(|q| q.to_string());
        }
    }

    /// The unqualified function ARN (the logs' hostname).
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region,
            self.account_id.as_deref().unwrap_or("000000000000"),
            self.name
        )
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Every function tag (enhanced metrics and logs).
    pub fn all(&self) -> Vec<String> {
        let mut tags = vec![
            format!("functionname:{}", self.name.to_lowercase()),
            format!("region:{}", self.region),
            format!("memorysize:{}", self.memory_mb),
            format!("architecture:{}", architecture()),
            format!("service:{}", self.service),
        ];
        match &self.qualifier {
            Some(q) => tags.push(format!("resource:{}:{q}", self.name)),
            None => tags.push(format!("resource:{}", self.name)),
        }
        if let Some(a) = &self.account_id {
            tags.push(format!("account_id:{a}"));
        }
        if let Some(r) = &self.runtime {
            tags.push(format!("runtime:{r}"));
        }
        if let Some(e) = &self.env {
            tags.push(format!("env:{e}"));
        }
        if let Some(v) = &self.version {
            tags.push(format!("version:{v}"));
        }
        tags.extend(self.user_tags.iter().cloned());
        tags
    }

    /// Function tags for custom metrics, minus `DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS` keys.
    pub fn for_custom_metrics(&self) -> Vec<String> {
        let mut tags = self.all();
        if !self.exclude.is_empty() {
            tags.retain(|t| {
                let key = t.split(':').next().unwrap_or(t);
                !self.exclude.iter().any(|e| e == key || e == t)
            });
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_config_and_late_facts() {
        let vars = [
            ("AWS_LAMBDA_FUNCTION_NAME", "My-Fn"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("DD_ENV", "prod"),
            ("DD_TAGS", "team:a"),
            ("DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS", "memorysize,team"),
        ];
        let (config, _) = Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        let mut tags = FunctionTags::new(&config);
        tags.set_invoked_arn("arn:aws:lambda:eu-west-1:123456789012:function:My-Fn:live");
        tags.set_runtime(Some("python3.12".into()));
        let all = tags.all();
        for t in [
            "functionname:my-fn",
            "region:eu-west-1",
            "memorysize:256",
            "account_id:123456789012",
            "resource:My-Fn:live",
            "runtime:python3.12",
            "env:prod",
            "service:my-fn",
            "team:a",
        ] {
            assert!(all.contains(&t.to_string()), "{t} missing from {all:?}");
        }
        let custom = tags.for_custom_metrics();
        assert!(!custom
            .iter()
            .any(|t| t.starts_with("memorysize:") || t.starts_with("team:")));
        assert_eq!(
            tags.arn(),
            "arn:aws:lambda:eu-west-1:123456789012:function:My-Fn"
        );
    }
}
