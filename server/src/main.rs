//! `mentorhub`: the thin command line around the library. Parsing, logging set-up and
//! dispatch only; everything else lives in `mentorhub::*`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mentorhub::auth::{Minter, Role, parse_ttl};
use mentorhub::config::{Config, LogFormat, ServeArgs, with_defaults};
use mentorhub::ids::AccountId;
use mentorhub::log_throttle::{self, Throttle};

/// Real-time server for electronic mentoring in medical education.
#[derive(Parser, Debug)]
#[command(name = "mentorhub", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print an HS256 token signed with the configured secret (for operators and tests).
    Token(TokenArgs),
    /// Apply database migrations and exit.
    Migrate(ServeArgs),
}

#[derive(clap::Args, Debug)]
struct TokenArgs {
    /// Account id (the token's `sub`)
    #[arg(long)]
    sub: String,
    /// Display name
    #[arg(long)]
    name: String,
    /// Role: mentee, mentor, coordinator or safeguarding (repeatable)
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
    roles: Vec<Role>,
    /// Lifetime, e.g. 90s, 15m, 1h, 7d
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    #[command(flatten)]
    config: ServeArgs,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// The command line, with every setting's default in its `--help`.
fn command() -> clap::Command {
    ["serve", "token", "migrate"]
        .into_iter()
        .fold(Cli::command(), |command, name| {
            command.mut_subcommand(name, with_defaults)
        })
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain, not a backtrace: most failures here are configuration
            // mistakes, and the message names the setting.
            eprintln!("mentorhub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let config = Config::load(args)?;
            init_tracing(config.log_format);
            if config.dev {
                print_dev_warning();
            }
            runtime()?.block_on(mentorhub::app::serve(config))
        }
        Command::Migrate(args) => {
            let config = Config::load(args)?;
            init_tracing(config.log_format);
            runtime()?.block_on(mentorhub::app::migrate(config))
        }
        Command::Token(args) => {
            let token = mint_token(args)?;
            println!("{token}");
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn mint_token(args: TokenArgs) -> anyhow::Result<String> {
    let config = Config::load(args.config)?;
    let Some(secret) = config.auth.hs256_secret() else {
        bail!(
            "`mentorhub token` signs with the configured HS256 secret: set \
             MENTORHUB_JWT_HS256_SECRET or MENTORHUB_JWT_HS256_SECRET_FILE \
             (a public key can only verify, and --dev secrets live only inside the server)"
        );
    };
    let sub = AccountId::parse(&args.sub)
        .context("--sub must be 1 to 200 characters without control characters")?;
    let name = args.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        bail!("--name must be 1 to 200 characters without control characters");
    }
    if args.ttl > config.auth.max_lifetime {
        bail!(
            "--ttl is longer than jwt_max_lifetime_secs ({} s): the server would refuse the token",
            config.auth.max_lifetime.as_secs()
        );
    }
    let minter = Minter::new(
        secret.expose(),
        config.auth.issuer.clone(),
        config.auth.audience.clone(),
    );
    Ok(minter.mint(&sub, name, &args.roles, args.ttl))
}

/// Filter from `MENTORHUB_LOG`, else `RUST_LOG`, else `info`.
fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let spec = std::env::var("MENTORHUB_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let mut filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
    // Libraries that log whole frames, headers or SDP at debug/trace would put message
    // bodies, tokens and addresses in the log: they are capped whatever the filter says.
    for capped in CONFIDENTIAL_LOG_CAPS {
        if let Ok(directive) = capped.parse() {
            filter = filter.add_directive(directive);
        }
    }
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Colour codes only for a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let output = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let output = match format {
        LogFormat::Text => output.boxed(),
        LogFormat::Json => output.json().boxed(),
    };
    // A failing dependency makes every request log the same error: one line per cause
    // per interval, and a count of the rest.
    let throttle = Throttle::new(log_throttle::INTERVAL);
    tracing_subscriber::registry()
        .with(filter)
        .with(output.with_filter(throttle.clone()))
        .init();
    throttle.spawn_reporter();
}

/// Log targets never allowed below `info` (they would log frames, headers or SDP). The
/// `turn` crate names client, peer and relay addresses at every level, even in its
/// errors ("No Permission or Channel exists for …" at info): it is silenced, and the
/// embedded TURN server is watched through its metrics instead.
const CONFIDENTIAL_LOG_CAPS: &[&str] = &[
    "tungstenite=info",
    "tokio_tungstenite=info",
    "axum::extract::ws=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "reqwest=info",
    "sqlx=warn",
    "webrtc=info",
    "webrtc_ice=info",
    "webrtc_dtls=info",
    "webrtc_sctp=info",
    "webrtc_srtp=info",
    "webrtc_data=info",
    "dtls=info",
    "sdp=info",
    "ice=info",
    "turn=off",
    "stun=info",
    "interceptor=info",
    "rtp=info",
    "rtcp=info",
];

fn print_dev_warning() {
    eprintln!(
        "\n\
         ************************************************************************\n\
         **  DEVELOPMENT MODE (--dev / MENTORHUB_DEV)                          **\n\
         **                                                                    **\n\
         **  POST /api/dev/login hands out a token for ANY name and role,      **\n\
         **  signed with a random per-start secret. Anyone who can reach this  **\n\
         **  server can sign in as anyone, including a coordinator.            **\n\
         **                                                                    **\n\
         **  NEVER run --dev in production or with real mentoring data.        **\n\
         ************************************************************************\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mentorhub token --sub u1 --name Ada` followed by `rest`, parsed.
    fn token_args(rest: &[&str]) -> TokenArgs {
        let fixed = ["mentorhub", "token", "--sub", "u1", "--name", "Ada"];
        let cli = Cli::try_parse_from(fixed.iter().chain(rest)).unwrap();
        let Command::Token(args) = cli.command else {
            panic!("not token")
        };
        args
    }

    #[test]
    fn cli_parses() {
        command().debug_assert();
        let args = token_args(&["--role", "mentor", "--role", "Mentee", "--ttl", "15m"]);
        assert_eq!(args.roles, [Role::Mentor, Role::Mentee]);
        assert_eq!(args.ttl, Duration::from_secs(900));
        assert!(
            Cli::try_parse_from(["mentorhub", "token", "--sub", "u", "--name", "n"]).is_err(),
            "a role is required"
        );
    }

    #[test]
    fn token_needs_an_hs256_secret() {
        let args = token_args(&["--role", "mentor", "--dev"]);
        let err = mint_token(args).unwrap_err().to_string();
        assert!(err.contains("MENTORHUB_JWT_HS256_SECRET"), "{err}");
    }

    #[test]
    fn token_is_verifiable_with_the_configured_secret() {
        let secret = "main-test-secret-0123456789abcdef0123";
        let args = token_args(&[
            "--role",
            "coordinator",
            "--jwt-hs256-secret",
            secret,
            "--jwt-issuer",
            "ops",
        ]);
        let token = mint_token(args).unwrap();
        let verifier = Minter::new(secret.as_bytes(), Some("ops".into()), None).verifier();
        let principal = verifier.verify_now(&token).unwrap();
        assert!(principal.has(Role::Coordinator));
    }
}
