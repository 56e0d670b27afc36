//! The `gerbang` binary: parse the command line, load settings, run.
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gateway::config::Settings;

#[derive(Parser)]
#[command(
    name = "gerbang",
    version,
    about = "Gerbang: the open-data API gateway and developer portal"
)]
struct Cli {
    /// A TOML settings file (then GERBANG_* environment variables apply on top).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API and portal.
    Serve {
        /// Seed sample Balikpapan agencies and datasets on first start.
        #[arg(long)]
        demo: bool,
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides settings).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load a CSV / JSON / NDJSON file as a new version of a dataset (created if missing).
    Import(gateway::cli::ImportArgs),
    /// Administration: agencies and staff accounts.
    #[command(subcommand)]
    Admin(gateway::cli::AdminCommand),
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    let _log = gateway::telemetry::init(settings.log_json);
    match cli.command {
        Command::Serve { demo, listen } => {
            if let Some(l) = listen {
                settings.listen = l;
            }
            let state = gateway::prepare_state(settings).await?;
            if demo {
                gateway::cli::prepare_demo(&state).await?;
            }
            let app = gateway::Application::build(state).await?;
            tracing::info!(port = app.port(), "gerbang is serving");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            gateway::prepare_state(settings).await?;
            tracing::info!("migrations applied");
        }
        Command::Import(args) => {
            let state = gateway::prepare_state(settings).await?;
            gateway::cli::import(&state, args, Arc::new(gateway::cli::Bar::default())).await?;
        }
        Command::Admin(cmd) => {
            let state = gateway::prepare_state(settings).await?;
            gateway::cli::admin(&state, cmd).await?;
        }
    }
    Ok(())
}
