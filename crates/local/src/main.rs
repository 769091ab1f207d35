//! `fanmail-local`: run fanmail on this machine.
//!
//!   fanmail-local dev [--port N] [--stack NAME] [--parameters MaxSendRate=100,...]
//!                                                  provision and serve everything
//!   fanmail-local env <FunctionLogicalId> [--stack NAME] [--api-url URL]
//!                                                  print a function's resolved environment
//!   fanmail-local provision [--stack NAME]         provision only; print the resources
//!   fanmail-local permissions <DIR>                hold the calls noted in DIR (a test run
//!                                                  with FANMAIL_RECORD_CALLS) against the
//!                                                  template's IAM policies

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use fanmail_local::provision::Stack;
use fanmail_local::{load_template, local_overrides, LocalEndpoints, Runner};

struct Args {
    command: String,
    positional: Vec<String>,
    options: BTreeMap<String, String>,
}

fn parse_args() -> Result<Args> {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().unwrap_or_else(|| "help".into());
    let mut positional = Vec::new();
    let mut options = BTreeMap::new();
    while let Some(arg) = raw.next() {
        match arg.strip_prefix("--") {
            Some(name) => {
                let value = raw.next().with_context(|| format!("--{name} needs a value"))?;
                options.insert(name.to_string(), value);
            }
            None => positional.push(arg),
        }
    }
    Ok(Args { command, positional, options })
}

const USAGE: &str = "usage: fanmail-local dev [--port N] [--stack NAME] [--parameters Key=Value,...]
       fanmail-local env <FunctionLogicalId> [--stack NAME] [--api-url URL]
       fanmail-local provision [--stack NAME]
       fanmail-local permissions <DIR>";

#[tokio::main]
async fn main() -> Result<()> {
    fanmail_common::telemetry::init_local();
    let args = parse_args()?;
    let stack_name = args.options.get("stack").cloned().unwrap_or_else(|| "fanmail".into());
    match args.command.as_str() {
        "dev" => {
            let port = args.options.get("port").map(|p| p.parse()).transpose()?.unwrap_or(3000);
            dev(&stack_name, port, &parameter_overrides(args.options.get("parameters"))?).await
        }
        "env" => {
            let function = args.positional.first().context(USAGE)?;
            let endpoints = LocalEndpoints::from_env()?;
            let stack = Stack::provision(&endpoints.sdk_config().await, load_template()?, &stack_name).await?;
            let api_url = args.options.get("api-url").cloned().unwrap_or_else(|| "http://127.0.0.1:3000".into());
            for (key, value) in stack.function_env(function, &local_overrides(&stack, &endpoints, &api_url)?)? {
                println!("{key}={value}");
            }
            Ok(())
        }
        "provision" => {
            let endpoints = LocalEndpoints::from_env()?;
            let stack = Stack::provision(&endpoints.sdk_config().await, load_template()?, &stack_name).await?;
            for (id, physical) in &stack.scope.resources {
                println!("{id}\t{}", physical.reference);
            }
            Ok(())
        }
        "permissions" => {
            let dir = args.positional.first().context(USAGE)?;
            permissions(std::path::Path::new(dir))
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command '{other}'\n{USAGE}"),
    }
}

/// Exits non-zero, naming each, if a noted call is not allowed, a grant was never used, or a
/// function's DynamoDB grants are not exactly what its store methods may need (checked
/// statically, so those grants need not have been called by a test).
fn permissions(dir: &std::path::Path) -> Result<()> {
    use fanmail_local::permissions::{check, check_stores, grants, stores_of};
    let template = load_template()?;
    let mut grants = grants(&template)?;
    let mut findings = Vec::new();
    for function in template.functions() {
        let uses = stores_of(&function).with_context(|| format!("{function}: no list of the store methods it uses"))?;
        findings.extend(check_stores(&template, &function, uses)?);
    }
    let statically = grants.iter().filter(|g| g.action.starts_with("dynamodb:")).count();
    for grant in grants.iter_mut().filter(|g| g.action.starts_with("dynamodb:") && g.exempt.is_none()) {
        grant.exempt = Some("StoreMethods".into());
    }
    let mut noted = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("no calls noted in {}", dir.display()))?;
    for entry in entries {
        let text = std::fs::read_to_string(entry?.path())?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            noted.push(serde_json::from_str(line).with_context(|| format!("a noted call: {line}"))?);
        }
    }
    if noted.is_empty() {
        bail!("no calls noted in {}: was the suite run with FANMAIL_RECORD_CALLS?", dir.display());
    }
    // Each execution environment notes its own calls once: the same call, noted by several.
    let noted: Vec<fanmail_local::permissions::Noted> =
        noted.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    findings.extend(check(&grants, &noted));
    let functions: std::collections::BTreeSet<_> = grants.iter().map(|g| g.function.as_str()).collect();
    for grant in grants.iter().filter(|g| g.exempt.as_deref().is_some_and(|e| e != "StoreMethods")) {
        println!(
            "permissions: not required to be called ({}): {}",
            grant.exempt.as_deref().unwrap_or_default(),
            grant.key()
        );
    }
    if findings.is_empty() {
        println!(
            "permissions: {} grants over {} functions: {statically} DynamoDB grants each needed by a store method \
             and every need granted; the other {} each used; {} distinct calls, each allowed",
            grants.len(),
            functions.len(),
            grants.len() - statically,
            noted.len()
        );
        return Ok(());
    }
    for finding in &findings {
        eprintln!("permissions: {finding}");
    }
    eprintln!(
        "permissions: {} findings (template.yaml's Policies against the store methods and the calls the tests made)",
        findings.len()
    );
    std::process::exit(1)
}

/// `Key=Value,Key=Value`, as `sam deploy --parameter-overrides` takes them.
fn parameter_overrides(raw: Option<&String>) -> Result<BTreeMap<String, String>> {
    raw.map(|raw| raw.split(',').filter(|p| !p.is_empty()))
        .into_iter()
        .flatten()
        .map(|pair| {
            let (k, v) = pair.split_once('=').with_context(|| format!("'{pair}' is not Key=Value"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

async fn dev(stack_name: &str, port: u16, parameters: &BTreeMap<String, String>) -> Result<()> {
    let endpoints = LocalEndpoints::from_env()?;
    // The preferred port, or any free one if it is taken.
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?,
    };
    let runner =
        Runner::start_with(&endpoints, &endpoints.sdk_config().await, stack_name, listener, parameters).await?;
    let routes = runner.stack.template.http_routes()?;
    println!();
    println!("fanmail is running locally (stack '{stack_name}')");
    println!("  API              {}        (try: curl {}/health)", runner.api_url, runner.api_url);
    println!("  sent mail        {}/        (JSON: {}/store)", endpoints.sesv2, endpoints.sesv2);
    println!("  AWS stand-in     {}  (moto dashboard: {}/moto-api/)", endpoints.aws, endpoints.aws);
    println!("  CLI              export FANMAIL_API={}; target/debug/fanmail --help", runner.api_url);
    println!("  API description  docs/openapi.yaml  (OpenAPI 3.1: every route, request and answer)");
    println!("  routes           {} (IAM auth is not checked locally)", routes.len());
    for route in &routes {
        println!("    {:<7} {}{}", route.method, route.path, if route.public { "   [public]" } else { "" });
    }
    println!("  queues           polled as the template's SQS event sources; schedules fired by the local clock");
    println!("Stop with Ctrl-C.");
    tokio::signal::ctrl_c().await?;
    drop(runner);
    Ok(())
}
