//! Command-line flags of the benchmarks: `--flag value` or `--flag=value`,
//! and what `--help` and a bad flag do.

use std::str::FromStr;

/// The arguments after the program name, read one flag at a time.
pub struct Flags<I> {
    args: I,
    usage: &'static str,
}

impl<I: Iterator<Item = String>> Flags<I> {
    /// `usage` ends every error message.
    pub fn new(args: impl IntoIterator<IntoIter = I>, usage: &'static str) -> Self {
        Self { args: args.into_iter(), usage }
    }

    /// The next flag, with its value when written `--flag=value`.
    pub fn next_flag(&mut self) -> Option<(String, Option<String>)> {
        let arg = self.args.next()?;
        Some(match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        })
    }

    /// The value of `flag`: `inline` if it was written `--flag=value`, else
    /// the next argument.
    pub fn value<T: FromStr>(&mut self, flag: &str, inline: Option<String>) -> Result<T, String> {
        let raw = inline.or_else(|| self.args.next()).ok_or_else(|| format!("{flag} needs a value\n{}", self.usage))?;
        raw.parse().map_err(|_| format!("{flag}: cannot parse {raw:?}\n{}", self.usage))
    }

    pub fn unknown(&self, flag: &str) -> String {
        format!("unknown argument {flag:?}\n{}", self.usage)
    }
}

/// What a benchmark's `parse_args` returned: the config, or `None` for
/// `--help` (prints `usage`, exits 0), or a message (prints it, exits 2).
pub fn config_or_exit<C>(parsed: Result<Option<C>, String>, usage: &str) -> C {
    match parsed {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{usage}");
            std::process::exit(0);
        }
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    }
}
