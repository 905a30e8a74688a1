//! The `pinraft` subcommands. Each module owns its clap arguments and its `run`.

pub mod check;
pub mod compare;
pub mod fuzz;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod sweep;

/// Parses one subcommand's flags (without the program and subcommand names) into its clap
/// `Args` struct, as the command line would.
pub fn parse_flags<A, I, T>(name: &'static str, flags: I) -> Result<A, clap::Error>
where
    A: clap::Args + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv =
        std::iter::once(std::ffi::OsString::from(name)).chain(flags.into_iter().map(Into::into));
    let matches = A::augment_args(clap::Command::new(name)).try_get_matches_from(argv)?;
    A::from_arg_matches(&matches)
}
