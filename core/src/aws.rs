//! The AWS SDK configuration shared by the S3 store and the SQS queue: endpoint override and
//! region when given, credentials from the usual chain (env, profile, web identity, instance
//! metadata), the SDK's standard retry (throttling, 5xx, timeouts) with `max_attempts`.

pub use aws_config::SdkConfig;

pub async fn sdk_config(
    endpoint_url: Option<&str>,
    region: Option<&str>,
    max_attempts: u32,
) -> SdkConfig {
    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(max_attempts.max(1));
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(retry);
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
}
