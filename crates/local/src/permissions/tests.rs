use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::json;

use super::actions::{needed_by, Needed};
use super::*;
use crate::resolve::Physical;

const TEMPLATE: &str = r#"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !Sub "${Table.Arn}/index/*"
"#;

fn scope() -> Scope {
    let mut scope = Scope::default();
    scope.resources.insert(
        "Table".into(),
        Physical {
            reference: "st-Table".into(),
            attributes: [("Arn".to_string(), "arn:aws:dynamodb:us-east-1:123456789012:table/st-Table".to_string())]
                .into(),
        },
    );
    scope
}

fn request(
    target: Option<&str>,
    credential_service: &str,
    method: &str,
    uri: &str,
    body: serde_json::Value,
) -> HttpRequest {
    let mut request = HttpRequest::new(SdkBody::from(body.to_string()));
    request.set_method(method).unwrap();
    request.set_uri(uri).unwrap();
    request.headers_mut().insert(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{credential_service}/aws4_request, SignedHeaders=host"
        ),
    );
    if let Some(target) = target {
        request.headers_mut().insert("x-amz-target", target.to_string());
    }
    request
}

fn noted(function: &str, action: &str, resource: &str, policy: &Policy) -> Noted {
    Noted {
        function: function.into(),
        action: action.into(),
        resource: resource.into(),
        allowed_by: policy.allowing(action, resource),
    }
}

#[test]
fn a_grant_no_call_uses_and_a_call_no_grant_allows_are_both_found() {
    let template = Template::parse(TEMPLATE).unwrap();
    let grants = grants(&template).unwrap();
    assert_eq!(grants.len(), 3);
    let policy = Policy::of("Fn", &grants, &scope(), "st").unwrap();
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/st-Table";
    let all_used = vec![
        noted("Fn", "dynamodb:GetItem", table, &policy),
        noted("Fn", "dynamodb:PutItem", table, &policy),
        noted("Fn", "dynamodb:Query", &format!("{table}/index/by-campaign"), &policy),
    ];
    assert_eq!(check(&grants, &all_used), Vec::<String>::new());

    // The function gains an action it never calls.
    let findings = check(&grants, &all_used[..2]);
    assert_eq!(findings, vec!["Fn: dynamodb:Query on !Sub ${Table.Arn}/index/* is allowed but never called"]);

    // The function calls what its policy does not allow: a query on the table itself, a scan.
    let mut refused = all_used.clone();
    refused.push(noted("Fn", "dynamodb:Query", table, &policy));
    refused.push(noted("Fn", "dynamodb:Scan", table, &policy));
    let findings = check(&grants, &refused);
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(findings.iter().all(|f| f.ends_with("which its policy does not allow")), "{findings:?}");
}

#[test]
fn sam_policy_templates_and_denies_are_refused() {
    let crud = TEMPLATE.replace(
        "        - Statement:\n",
        "        - DynamoDBCrudPolicy: { TableName: !Ref Table }\n        - Statement:\n",
    );
    let error = grants(&Template::parse(&crud).unwrap()).unwrap_err().to_string();
    assert!(error.contains("write its actions out"), "{error}");
    let deny = TEMPLATE.replacen("Effect: Allow", "Effect: Deny", 1);
    assert!(grants(&Template::parse(&deny).unwrap()).is_err());
}

#[test]
fn wildcards_match_as_iam_matches_them() {
    assert!(matches("arn:aws:s3:::b/lists/*", "arn:aws:s3:::b/lists/a/b.csv"));
    assert!(!matches("arn:aws:s3:::b/lists/*", "arn:aws:s3:::b/reports/x.csv"));
    assert!(matches("*", "anything"));
    assert!(matches("dynamodb:Get*", "dynamodb:GetItem"));
    assert!(matches("a?c", "abc"));
    assert!(!matches("a?c", "ac"));
    assert!(!matches("table/t", "table/t/index/i"));
}

#[test]
fn requests_name_the_actions_and_resources_iam_authorizes() {
    let table = |name: &str| format!("arn:aws:dynamodb:us-east-1:123456789012:table/{name}");
    let need = |action: &str, resource: &str| Needed { action: action.into(), resource: resource.into() };

    let query = request(
        Some("DynamoDB_20120810.Query"),
        "dynamodb",
        "POST",
        "http://127.0.0.1:5000/",
        json!({"TableName": "t", "IndexName": "by-status"}),
    );
    assert_eq!(needed_by(&query), vec![need("dynamodb:Query", &format!("{}/index/by-status", table("t")))]);

    let transaction = request(
        Some("DynamoDB_20120810.TransactWriteItems"),
        "dynamodb",
        "POST",
        "http://127.0.0.1:5000/",
        json!({"TransactItems": [{"Put": {"TableName": "a"}}, {"ConditionCheck": {"TableName": "b"}}]}),
    );
    assert_eq!(
        needed_by(&transaction),
        vec![need("dynamodb:PutItem", &table("a")), need("dynamodb:ConditionCheckItem", &table("b"))]
    );

    let batch = request(
        Some("AmazonSQS.SendMessageBatch"),
        "sqs",
        "POST",
        "http://127.0.0.1:5000/",
        json!({"QueueUrl": "http://127.0.0.1:5000/123456789012/st-Queue"}),
    );
    assert_eq!(needed_by(&batch), vec![need("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:st-Queue")]);

    let get = request(None, "s3", "GET", "http://127.0.0.1:5000/bucket/lists/x.csv", json!(null));
    assert_eq!(needed_by(&get), vec![need("s3:GetObject", "arn:aws:s3:::bucket/lists/x.csv")]);

    let send = request(
        None,
        "ses",
        "POST",
        "http://127.0.0.1:7000/v2/email/outbound-emails",
        json!({"FromEmailAddress": "News <news@example.com>", "ConfigurationSetName": "set"}),
    );
    assert_eq!(
        needed_by(&send),
        vec![
            need("ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:identity/example.com"),
            need("ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:configuration-set/set"),
        ]
    );

    let schedule = request(
        None,
        "scheduler",
        "POST",
        "http://127.0.0.1:5000/schedules/c1",
        json!({"GroupName": "g", "Target": {"RoleArn": "arn:aws:iam::123456789012:role/r"}}),
    );
    assert_eq!(
        needed_by(&schedule),
        vec![
            need("scheduler:CreateSchedule", "arn:aws:scheduler:us-east-1:123456789012:schedule/g/c1"),
            need("iam:PassRole", "arn:aws:iam::123456789012:role/r"),
        ]
    );

    // Something this does not know is named, never passed over.
    let unknown = request(Some("Foo.Bar"), "kinesis", "POST", "http://127.0.0.1:5000/", json!({}));
    assert_eq!(needed_by(&unknown)[0].action, "kinesis:?");
}

#[test]
fn every_dynamodb_permission_a_store_method_may_need_is_granted_and_no_other() {
    let template = crate::load_template().unwrap();
    let mut findings = Vec::new();
    for function in template.functions() {
        let uses = stores_of(&function).unwrap_or_else(|| panic!("{function}: no store list"));
        findings.extend(check_stores(&template, &function, uses).unwrap());
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_static_check_finds_a_need_without_its_grant_and_a_grant_without_its_need() {
    use fanmail_common::store::iam::Port;
    let template = Template::parse(
        r#"
Resources:
  LedgerTable:
    Type: AWS::DynamoDB::Table
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          LEDGER_TABLE: !Ref LedgerTable
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:PutItem, dynamodb:Scan]
              Resource: !GetAtt LedgerTable.Arn
"#,
    )
    .unwrap();
    let uses = [Uses { port: Port::Ledger, methods: &["record_once"] }];
    assert_eq!(
        check_stores(&template, "Fn", &uses).unwrap(),
        [
            "Fn may call dynamodb:GetItem on !GetAtt LedgerTable.Arn, which its policy does not allow",
            "Fn: dynamodb:Scan on !GetAtt LedgerTable.Arn is allowed but no store method needs it",
        ]
    );
}
