//! SigV4 signing of API requests (`execute-api`), as API Gateway's IAM authorization checks
//! them, with the AWS SDK's own signer.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// The service name API Gateway's IAM authorization signs for.
pub const EXECUTE_API: &str = "execute-api";

/// Signs `request` in place: adds `Host` (from its URI) when missing, `X-Amz-Date`,
/// `Authorization` and, for temporary credentials, `X-Amz-Security-Token`.
pub fn sign_request(
    request: &mut http::Request<bytes::Bytes>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    at: SystemTime,
) -> Result<(), String> {
    if !request.headers().contains_key(http::header::HOST) {
        let host = request.uri().authority().ok_or("the request's URL has no host")?.to_string();
        request.headers_mut().insert(http::header::HOST, host.parse().map_err(|_| "the host is not a header value")?);
    }
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .map(|(name, value)| Ok((name.as_str(), value.to_str().map_err(|_| format!("header {name} is not text"))?)))
        .collect::<Result<_, String>>()?;
    let uri = request.uri().to_string();
    let signable =
        SignableRequest::new(request.method().as_str(), &uri, headers.into_iter(), SignableBody::Bytes(request.body()))
            .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The AWS SigV4 test suite's vectors (`aws-signing-test-suite/v4`), credentials
    //! `AKIDEXAMPLE`, region `us-east-1`, service `service`, 2015-08-30T12:36:00Z.

    use super::*;

    fn vector(method: &str, uri: &str, token: Option<&str>, body: &str) -> String {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "test-suite",
        );
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "example.amazonaws.com")
            .body(bytes::Bytes::from(body.to_string()))
            .unwrap();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        sign_request(&mut request, &credentials, "us-east-1", "service", at).unwrap();
        assert_eq!(request.headers()["x-amz-date"], "20150830T123600Z");
        let authorization = request.headers()["authorization"].to_str().unwrap().to_string();
        assert!(
            authorization
                .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"),
            "{authorization}"
        );
        authorization.rsplit("Signature=").next().unwrap().to_string()
    }

    #[test]
    fn signatures_match_the_sigv4_test_suite() {
        assert_eq!(
            vector("GET", "https://example.amazonaws.com/", None, ""),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "get-vanilla"
        );
        assert_eq!(
            vector("POST", "https://example.amazonaws.com/", None, ""),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            "post-vanilla"
        );
        assert_eq!(
            vector("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", None, ""),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            "get-vanilla-query-order-key-case"
        );
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        assert_eq!(
            vector("GET", "https://example.amazonaws.com/", Some(token), ""),
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
            "get-vanilla-with-session-token"
        );
    }

    #[test]
    fn a_missing_host_is_taken_from_the_url_and_signed() {
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let mut request = http::Request::builder()
            .method("GET")
            .uri("https://abc123.execute-api.eu-west-1.amazonaws.com/campaigns?limit=5")
            .body(bytes::Bytes::new())
            .unwrap();
        sign_request(&mut request, &credentials, "eu-west-1", EXECUTE_API, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(request.headers()["host"], "abc123.execute-api.eu-west-1.amazonaws.com");
        let authorization = request.headers()["authorization"].to_str().unwrap();
        assert!(authorization.contains("/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date,"));
    }
}
