//! Metrics: the exposition formats, the scraper of a service's `/metrics`, and what vigia
//! serves on its own `/metrics`.

pub mod config;
pub mod exposition;
pub mod red;
pub mod scrape;
pub mod serve;
