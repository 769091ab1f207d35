//! The `fanmail` command; see the library for the commands and exit codes.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let code = fanmail_cli::run(std::env::args_os(), &mut std::io::stdout(), &mut std::io::stderr()).await;
    std::process::ExitCode::from(code)
}
