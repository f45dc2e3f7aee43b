//! Subcommands whose arguments clap builds only when they are the ones invoked
//! (`clap::Command::defer`). Building every subcommand's arguments costs more than the rest of
//! a `traek resource get`; the help and the parsed values are the same as without the wrappers
//! (`tests::the_deferred_command_line_is_the_same_as_the_built_one`).

use clap::{ArgMatches, Args, Command, FromArgMatches, Subcommand};
use std::sync::atomic::{AtomicBool, Ordering};

/// Build everything at once (shell completions list every subcommand, `help`'s included, which
/// clap fills from subcommands already built).
static EAGER: AtomicBool = AtomicBool::new(false);

/// Makes later commands build every subcommand at once.
pub(crate) fn build_eagerly() {
    EAGER.store(true, Ordering::Relaxed);
}

fn eager() -> bool {
    EAGER.load(Ordering::Relaxed)
}

/// A subcommand tree (an enum of subcommands) built on use.
#[derive(Debug)]
pub(crate) struct LazySubcommands<T>(pub(crate) T);

impl<T: Subcommand> Subcommand for LazySubcommands<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        if eager() {
            return T::augment_subcommands(cmd);
        }
        cmd.defer(T::augment_subcommands)
    }
    fn augment_subcommands_for_update(cmd: Command) -> Command {
        if eager() {
            return T::augment_subcommands_for_update(cmd);
        }
        cmd.defer(T::augment_subcommands_for_update)
    }
    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

impl<T: FromArgMatches> FromArgMatches for LazySubcommands<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(LazySubcommands)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

/// A subcommand's arguments (a struct) built on use.
#[derive(Debug)]
pub(crate) struct LazyArgs<T>(pub(crate) T);

impl<T: Args> Args for LazyArgs<T> {
    fn augment_args(cmd: Command) -> Command {
        if eager() {
            return T::augment_args(cmd);
        }
        cmd.defer(T::augment_args)
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        if eager() {
            return T::augment_args_for_update(cmd);
        }
        cmd.defer(T::augment_args_for_update)
    }
}

impl<T: FromArgMatches> FromArgMatches for LazyArgs<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(LazyArgs)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    /// Every subcommand path of a command, as argument lists.
    fn paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut path = prefix.clone();
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            paths(sub, path, out);
        }
    }

    #[test]
    fn the_deferred_command_line_is_the_same_as_the_built_one() {
        let mut built = crate::Cli::command();
        built.build();
        let mut all = Vec::new();
        paths(&built, Vec::new(), &mut all);
        assert!(all.len() > 30, "every subcommand is found: {all:?}");
        assert!(all.iter().any(|p| p == &["resource", "get"]));
        for path in all.iter().filter(|p| !p.iter().any(|s| s == "help")) {
            let mut expected = built.clone();
            for name in path {
                expected = expected.find_subcommand(name).cloned().unwrap_or_else(|| {
                    panic!("{path:?} is not a subcommand");
                });
            }
            let mut args = vec!["traek".to_string()];
            args.extend(path.iter().cloned());
            args.push("--help".into());
            let shown = crate::Cli::try_parse_from(&args).map(|_| ()).unwrap_err();
            assert_eq!(
                shown.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{path:?}"
            );
            assert_eq!(
                shown.to_string(),
                expected.render_help().to_string(),
                "{path:?}"
            );
        }
    }
}
