//! `portico-dev-idp [--port N] [--admin] [--access-ttl SECS] [--no-rotation]`

fn main() {}
