//! The `recstore` command line.

fn main() {}
