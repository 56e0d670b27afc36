//! `serve --demo`: seeds Kota Balikpapan's sample agencies and datasets on first start.
//! The files ship inside the binary (catalog/demo/, made by its deterministic generate.py).
use std::io::Write;
use std::sync::Arc;

use catalog::domain::{AgencySlug, DatasetSlug};
use catalog::records::ingest::{IngestRequest, NoProgress};
use catalog::records::source::UploadFormat;
use catalog::service::{AgencyInput, Catalog, DatasetInput};
use serde::Deserialize;

const MANIFEST: &str = include_str!("../../catalog/demo/manifest.json");

const FILES: &[(&str, &[u8])] = &[
    (
        "laporan-jalan-v1.csv",
        include_bytes!("../../catalog/demo/laporan-jalan-v1.csv"),
    ),
    (
        "laporan-jalan-v2.csv",
        include_bytes!("../../catalog/demo/laporan-jalan-v2.csv"),
    ),
    (
        "titik-sampah.csv",
        include_bytes!("../../catalog/demo/titik-sampah.csv"),
    ),
    (
        "realisasi-apbd-2024.csv",
        include_bytes!("../../catalog/demo/realisasi-apbd-2024.csv"),
    ),
    (
        "fasilitas-publik.csv",
        include_bytes!("../../catalog/demo/fasilitas-publik.csv"),
    ),
    (
        "kualitas-udara.csv",
        include_bytes!("../../catalog/demo/kualitas-udara.csv"),
    ),
];

#[derive(Deserialize)]
struct Manifest {
    agencies: Vec<AgencyInput>,
    datasets: Vec<DemoDataset>,
}

#[derive(Deserialize)]
struct DemoDataset {
    agency: AgencySlug,
    versions: Vec<DemoVersion>,
    #[serde(flatten)]
    dataset: serde_json::Value,
}

#[derive(Deserialize)]
struct DemoVersion {
    file: String,
    changelog: Option<String>,
    /// Indexes declared with the upload (fields by name), as `indexes=` declares them.
    #[serde(default)]
    indexes: Vec<Vec<String>>,
}

/// Seeds the demo catalog unless there are agencies already. Returns whether it seeded.
pub async fn seed(catalog: &Catalog) -> anyhow::Result<bool> {
    if !catalog.list_agencies().await?.is_empty() {
        return Ok(false);
    }
    let manifest: Manifest = serde_json::from_str(MANIFEST)?;
    for a in manifest.agencies {
        catalog.create_agency(a).await?;
    }
    for d in manifest.datasets {
        let input: DatasetInput = serde_json::from_value(d.dataset)?;
        let slug: DatasetSlug = input.slug.clone();
        catalog.create_dataset(&d.agency, input).await?;
        for v in d.versions {
            let bytes = FILES
                .iter()
                .find(|(name, _)| *name == v.file)
                .map(|(_, b)| *b)
                .ok_or_else(|| anyhow::anyhow!("demo file {} is not bundled", v.file))?;
            let mut file = tempfile::NamedTempFile::new()?;
            file.write_all(bytes)?;
            let req = IngestRequest {
                path: file.path().to_owned(),
                format: UploadFormat::Csv,
                schema: None,
                timezone: Default::default(),
                indexes: v.indexes,
            };
            let created = catalog
                .create_version(
                    &d.agency,
                    &slug,
                    req,
                    v.changelog,
                    None,
                    Arc::new(NoProgress),
                )
                .await?;
            catalog
                .publish_version(&d.agency, &slug, created.version.version)
                .await?;
        }
        tracing::info!(agency = %d.agency, dataset = %slug, "demo dataset loaded");
    }
    Ok(true)
}
