//! The command-line side of the binary: import with a progress bar, admin tasks, demo set-up.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use catalog::accounts::{self, UserInput};
use catalog::domain::{AgencySlug, DatasetSlug, Role};
use catalog::records::ingest::{IngestRequest, Progress};
use catalog::records::source::UploadFormat;
use catalog::schema::parse_index_list;
use catalog::service::{AgencyInput, DatasetInput};
use indicatif::{ProgressBar, ProgressStyle};

use crate::AppState;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The file to load.
    pub file: PathBuf,
    #[arg(long)]
    pub agency: String,
    #[arg(long)]
    pub dataset: String,
    /// csv, json or ndjson (default: from the file name).
    #[arg(long)]
    pub format: Option<String>,
    /// Publish the new version right away.
    #[arg(long)]
    pub publish: bool,
    /// Title for a dataset created by this import.
    #[arg(long)]
    pub title: Option<String>,
    /// Declare an index over these fields, comma-separated, beside the one every field gets
    /// (e.g. `district,category,reported_at` for equality filters on the first two sorted by
    /// the third). Repeat for more.
    #[arg(long = "index", value_name = "FIELDS")]
    pub indexes: Vec<String>,
}

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Create an agency.
    CreateAgency {
        slug: String,
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        website: Option<String>,
    },
    /// Create a staff account (password from GERBANG_NEW_PASSWORD or --password).
    CreateUser {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        agency: Option<String>,
        #[arg(long, env = "GERBANG_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

/// A terminal progress bar for ingestion.
#[derive(Default)]
pub struct Bar(std::sync::Mutex<Option<ProgressBar>>);

impl Progress for Bar {
    fn phase(&self, name: &str, total_rows: u64) {
        let mut guard = self.0.lock().expect("progress lock");
        if let Some(old) = guard.take() {
            old.finish_and_clear();
        }
        let bar = if total_rows > 0 {
            let b = ProgressBar::new(total_rows);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:>10} [{bar:40}] {pos}/{len} rows {per_sec} eta {eta}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b
        } else {
            let b = ProgressBar::new_spinner();
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        };
        bar.set_message(name.to_owned());
        *guard = Some(bar);
    }

    fn advance(&self, rows: u64) {
        if let Some(b) = self.0.lock().expect("progress lock").as_ref() {
            b.inc(rows);
        }
    }
}

impl Bar {
    fn finish(&self) {
        if let Some(b) = self.0.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }
}

pub async fn import(state: &AppState, args: ImportArgs, bar: Arc<Bar>) -> anyhow::Result<()> {
    let agency = AgencySlug::parse(&args.agency)?;
    let dataset = DatasetSlug::parse(&args.dataset)?;
    // before anything is created: a mistyped path leaves no agency or dataset behind
    match std::fs::metadata(&args.file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => anyhow::bail!("{} is not a file", args.file.display()),
        Err(e) => anyhow::bail!("cannot read {}: {e}", args.file.display()),
    }
    let format = match args.format.as_deref() {
        Some("csv") => UploadFormat::Csv,
        Some("json") => UploadFormat::Json,
        Some("ndjson") => UploadFormat::Ndjson,
        Some(other) => anyhow::bail!("unknown format {other}; use csv, json or ndjson"),
        None => match args.file.extension().and_then(|e| e.to_str()) {
            Some("json") => UploadFormat::Json,
            Some("ndjson" | "jsonl") => UploadFormat::Ndjson,
            _ => UploadFormat::Csv,
        },
    };
    let catalog = &state.catalog;
    if catalog.get_agency(&agency).await.is_err() {
        catalog
            .create_agency(AgencyInput {
                slug: agency.clone(),
                name: args.agency.clone(),
                description: None,
                website: None,
            })
            .await?;
    }
    if catalog.get_dataset(&agency, &dataset, true).await.is_err() {
        let input: DatasetInput = serde_json::from_value(serde_json::json!({
            "slug": dataset.as_str(),
            "title": args.title.clone().unwrap_or_else(|| args.dataset.clone()),
            "theme": "governance",
            "license": "CC-BY-4.0",
            "frequency": "irregular",
        }))?;
        catalog.create_dataset(&agency, input).await?;
    }
    let started = Instant::now();
    let req = IngestRequest {
        path: args.file.clone(),
        format,
        schema: None,
        timezone: Default::default(),
        indexes: args
            .indexes
            .iter()
            .flat_map(|i| parse_index_list(i))
            .collect(),
    };
    let created = catalog
        .create_version(&agency, &dataset, req, None, None, bar.clone())
        .await;
    bar.finish();
    let created = created?;
    let v = created.version.version;
    if args.publish {
        catalog.publish_version(&agency, &dataset, v).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    for w in &created.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "imported {} rows into {agency}/{dataset} version {v}{} in {secs:.2} s ({:.0} rows/s)",
        created.version.row_count,
        if args.publish {
            " (published)"
        } else {
            " (draft)"
        },
        created.version.row_count as f64 / secs.max(1e-9)
    );
    Ok(())
}

pub async fn admin(state: &AppState, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateAgency {
            slug,
            name,
            description,
            website,
        } => {
            let a = state
                .catalog
                .create_agency(AgencyInput {
                    slug: AgencySlug::parse(&slug)?,
                    name,
                    description,
                    website,
                })
                .await?;
            println!("created agency {}", a.slug);
        }
        AdminCommand::CreateUser {
            username,
            role,
            agency,
            password,
        } => {
            let input = UserInput {
                username,
                password,
                role: Role::parse(&role)?,
                agency: agency.as_deref().map(AgencySlug::parse).transpose()?,
            };
            let s = accounts::create_user(&state.catalog.db, input).await?;
            println!("created {} {}", s.role, s.username);
        }
    }
    Ok(())
}

/// Seeds the demo catalog and, when no admin password is configured, a demo admin.
pub async fn prepare_demo(state: &AppState) -> anyhow::Result<()> {
    if crate::demo::seed(&state.catalog).await? {
        tracing::info!("demo catalog seeded: Kota Balikpapan");
    }
    if state.settings.admin_password.is_none()
        && accounts::bootstrap_admin(&state.catalog.db, "gerbang-demo").await?
    {
        tracing::warn!("demo admin created: username 'admin', password 'gerbang-demo' (set GERBANG_ADMIN_PASSWORD in production)");
    }
    Ok(())
}
