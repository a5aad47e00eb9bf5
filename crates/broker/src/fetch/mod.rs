//! Native fetch for micro frontends: the shell makes the API call with the token, so a page that
//! only fetches never holds one (issue 16).

pub mod challenge;
mod exec;
pub mod rules;

pub use exec::{ApiRoute, FetchCaller, FetchInput, FetchLimits, FetchOutput};
pub use rules::ApiBase;
