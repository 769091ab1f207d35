//! `docs/openapi.yaml` describes exactly the routes there are: those `template.yaml` gives API
//! Gateway, and those the functions' routers answer. (`make test` also checks every request and
//! response of these tests against it: `scripts/check-openapi.py`.)

use std::collections::BTreeSet;

use fanmail_local::{load_template, repo_root};
use serde_yaml::Value;

fn spec() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docs/openapi.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

/// `METHOD /path` of every operation, and of those that take no authorization.
fn spec_routes(spec: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut all, mut public) = (BTreeSet::new(), BTreeSet::new());
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let key = format!("{} {}", method.to_uppercase(), path.as_str().unwrap());
                if operation.get("security").and_then(Value::as_sequence).is_some_and(Vec::is_empty) {
                    public.insert(key.clone());
                }
                all.insert(key);
            }
        }
    }
    (all, public)
}

/// The route keys a function's router matches: its `"METHOD /path" =>` arms.
fn router_routes(source: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join(source)).unwrap();
    text.lines()
        .filter_map(|line| {
            let quoted = line.trim().strip_prefix('"')?;
            let (key, rest) = quoted.split_once('"')?;
            let (method, path) = key.split_once(' ')?;
            (rest.trim_start().starts_with("=>")
                && METHODS.contains(&method.to_lowercase().as_str())
                && path.starts_with('/'))
            .then(|| key.to_string())
        })
        .collect()
}

#[test]
fn the_description_template_and_routers_have_the_same_routes() {
    let (described, described_public) = spec_routes(&spec());
    let template = load_template().unwrap().http_routes().unwrap();
    let deployed: BTreeSet<String> = template.iter().map(|r| r.route_key()).collect();
    let deployed_public: BTreeSet<String> = template.iter().filter(|r| r.public).map(|r| r.route_key()).collect();
    let mut routed = router_routes("crates/api/src/lib.rs");
    routed.extend(router_routes("crates/upload-url/src/lib.rs"));

    assert!(described.len() >= 25, "{described:?}");
    assert_eq!(
        described.symmetric_difference(&deployed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes in only one of docs/openapi.yaml and template.yaml"
    );
    assert_eq!(
        described.symmetric_difference(&routed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes in only one of docs/openapi.yaml and the routers"
    );
    assert_eq!(described_public, deployed_public, "routes without authorization");
}

#[test]
fn every_operation_answers_errors_in_the_one_error_shape() {
    let spec = spec();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let default = &operation["responses"]["default"]["$ref"];
            let html = path.as_str() == Some("/unsubscribe");
            let expected = if html { "#/components/responses/Page" } else { "#/components/responses/Error" };
            assert_eq!(default.as_str(), Some(expected), "{method} {path:?}");
        }
    }
}
