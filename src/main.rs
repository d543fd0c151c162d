use clap::Parser;
use sn9::error::{ExitCode, exit_code};

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "sn9: internal error: {info}\nThis is a bug in sn9; please report it with the command you ran."
        );
    }));
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
