use clap::Parser;
use sn9::error::{ExitCode, exit_code};

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "sn9: internal error: {info}\nThis is a bug in sn9; please report it with the command you ran."
        );
    }));
    // sn9 records the paths it is given in JSON (manifests, run.json, results), which holds
    // only UTF-8: a name that is not is refused here, before any work, rather than written
    // lossily (a resumed run would not find it again).
    if let Some(bad) = std::env::args_os()
        .skip(1)
        .map(|a| (String::new(), a))
        .chain(
            std::env::vars_os()
                .filter(|(k, _)| {
                    k.to_str()
                        .is_some_and(|k| k.starts_with("SN9_") || k.starts_with("HF_"))
                })
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v)),
        )
        .find(|(_, v)| v.to_str().is_none())
    {
        let (name, value) = bad;
        let what = if name.is_empty() {
            "the argument".to_string()
        } else {
            format!("${name}")
        };
        eprintln!(
            "sn9: error: {what} {value:?} is not UTF-8; sn9 writes the paths it is given into \
             JSON files: rename the file or directory"
        );
        std::process::exit(ExitCode::User as i32);
    }
    let cli = match sn9::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() {
                ExitCode::User
            } else {
                ExitCode::Ok
            };
            std::process::exit(code as i32);
        }
    };
    match std::panic::catch_unwind(|| sn9::cli::run(cli)) {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            let code = exit_code(&err);
            match code {
                ExitCode::Ok => {}
                ExitCode::Interrupted => eprintln!("sn9: {err:#}"),
                _ => eprintln!("sn9: error: {err:#}"),
            }
            std::process::exit(code as i32);
        }
        Err(_) => std::process::exit(ExitCode::Internal as i32),
    }
}
