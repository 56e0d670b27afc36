//! The one integration-test binary: the real server on a random port, over real HTTP, against
//! SQLite (default) or Postgres (`GERBANG_TEST_BACKEND=postgres`, a fresh database per test).
mod auth;
mod bad_input;
mod cache;
mod ckan;
mod cli;
mod cluster;
mod developers;
mod helpers;
mod oidc;
mod openapi;
mod portal;
mod publishing;
mod records;
