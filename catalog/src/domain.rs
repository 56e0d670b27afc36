//! Parsed domain values: once you hold one, it is valid (parse, don't validate).
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};

fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 64
        && ok(&b[0])
        && ok(&b[b.len() - 1])
        && b.iter().all(|c| ok(c) || *c == b'-')
}

/// The contract's slug syntax, for documents.
pub const SLUG_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$";

macro_rules! slug_type {
    ($name:ident, $what:literal, $example:literal) => {
        #[doc = concat!("A valid ", $what, " slug: `^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(SLUG_PATTERN))
                    .examples([$example])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub fn parse(s: &str) -> Result<Self> {
                if is_slug(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(CatalogError::bad_request(format!(
                        "'{}' is not a valid {} slug: use 1-64 lowercase letters, digits and inner hyphens",
                        s.chars().take(80).collect::<String>(),
                        $what
                    )))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

slug_type!(AgencySlug, "agency", "dinas-pu");
slug_type!(DatasetSlug, "dataset", "laporan-jalan");

macro_rules! closed_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(CatalogError::bad_request(format!(
                        "'{}' is not a valid {}; expected one of: {}",
                        s.chars().take(80).collect::<String>(),
                        $what,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_enum!(
    /// The six smart-city dimensions of Gerakan Menuju 100 Smart City.
    Theme, "theme", {
        Governance => "governance",
        Branding => "branding",
        Economy => "economy",
        Living => "living",
        Society => "society",
        Environment => "environment",
    }
);

closed_enum!(
    /// How often a dataset gets a new version.
    Frequency, "frequency", {
        Daily => "daily",
        Weekly => "weekly",
        Monthly => "monthly",
        Quarterly => "quarterly",
        Annual => "annual",
        Irregular => "irregular",
    }
);

closed_enum!(
    /// Who may read a dataset's records: anyone, or any caller with a valid key.
    Access, "access", {
        Public => "public",
        Registered => "registered",
    }
);

closed_enum!(
    /// A staff account's role.
    Role, "role", {
        Admin => "admin",
        Publisher => "publisher",
    }
);

closed_enum!(
    /// The life of a version: drafts are invisible to the public.
    VersionStatus, "version status", {
        Draft => "draft",
        Published => "published",
        Deprecated => "deprecated",
    }
);

/// `versions/{n}` or `versions/latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    Number(i32),
    Latest,
}

impl VersionRef {
    pub fn parse(s: &str) -> Result<Self> {
        if s == "latest" {
            return Ok(Self::Latest);
        }
        match s.parse::<i32>() {
            Ok(n) if n >= 1 && !s.starts_with('+') && !s.starts_with('0') => Ok(Self::Number(n)),
            _ => Err(CatalogError::not_found(format!(
                "'{}' is not a version: use a number from 1 or 'latest'",
                s.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// An IANA time zone name, checked against the tz database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self> {
        s.parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| CatalogError::bad_request(format!("'{s}' is not an IANA time zone")))
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone(chrono_tz::Asia::Jakarta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_contract_pattern() {
        for ok in ["a", "dinas-pu", "a1", "x".repeat(64).as_str()] {
            assert!(AgencySlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "x".repeat(65).as_str(),
            "a b",
            "é",
        ] {
            assert!(AgencySlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_refs() {
        assert_eq!(VersionRef::parse("latest").unwrap(), VersionRef::Latest);
        assert_eq!(VersionRef::parse("3").unwrap(), VersionRef::Number(3));
        for bad in ["0", "-1", "01", "+1", "x", "99999999999"] {
            assert!(VersionRef::parse(bad).is_err(), "{bad}");
        }
    }
}
