//! One run of the agent: options in, one request out, the answer mapped to
//! the original's messages and exit codes.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keys::{HashAlgorithm, Key};
use protocol::{Operation, Request, ResultCode};
use tokio::time::Instant;

use crate::metadata::{metadata_xml, usage};
use crate::options::{Action, Options};
use crate::params::Personality;
use crate::transport::multicast;
use crate::transport::{tcp, Answer, Credentials, Transport, TransportError};

/// Exit status: success / status on.
pub const EXIT_OK: u8 = 0;
/// Exit status: failure of any kind.
pub const EXIT_FAIL: u8 = 1;

/// Entry point of both binaries.
pub fn main_from_env() -> ExitCode {
    let mut argv = std::env::args();
    let typed = argv.next().unwrap_or_else(|| "fence_xvm".to_string());
    let program = Path::new(&typed).file_name().map_or_else(|| typed.clone(), |n| n.to_string_lossy().into_owned());
    let personality = Personality::from_program_name(&program);
    let args: Vec<String> = argv.collect();
    let parsed = if args.is_empty() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("{program}: cannot read arguments from stdin: {e}");
            return ExitCode::from(EXIT_FAIL);
        }
        Options::from_stdin_text(personality, &text, &mut |w| eprintln!("{w}"))
    } else {
        Options::from_args(personality, &program, &args)
    };
    let opts = match parsed {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::from(EXIT_FAIL);
        }
    };
    ExitCode::from(run(&opts, &typed, &program))
}

/// Runs the parsed options and returns the exit status.
pub fn run(opts: &Options, typed: &str, program: &str) -> u8 {
    if opts.help {
        print!("{}", usage(opts.personality, typed));
        return EXIT_OK;
    }
    if opts.version {
        println!("{program} {}", protocol::defaults::PROTOCOL_VERSION);
        println!("fence release {}", env!("CARGO_PKG_VERSION"));
        return EXIT_OK;
    }
    if opts.action == Action::Metadata {
        print!("{}", metadata_xml(opts.personality, program));
        return EXIT_OK;
    }
    if let Err(e) = opts.validate() {
        eprintln!("{program}: {e}");
        return EXIT_FAIL;
    }
    if opts.action == Action::ValidateAll {
        return EXIT_OK;
    }
    let transport = opts.transport();
    let creds = match credentials(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{program}: {e}");
            return EXIT_FAIL;
        }
    };
    if opts.action.is_delayed() && opts.delay > 0 {
        std::thread::sleep(Duration::from_secs(u64::from(opts.delay)));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start: {e}");
            return EXIT_FAIL;
        }
    };
    let answer = runtime.block_on(exchange(opts, &transport, &creds));
    report(opts, answer)
}

/// Reads the key unless both algorithms are `none`. Unlike the original, an
/// unreadable default key is an error, not a silent fall-back to no
/// authentication.
fn credentials(opts: &Options) -> Result<Credentials, keys::KeyError> {
    let key = if opts.hash == HashAlgorithm::None && opts.auth == HashAlgorithm::None {
        Vec::new()
    } else {
        Key::read(&opts.key_file)?.as_bytes().to_vec()
    };
    Ok(Credentials { key, hash: opts.hash, auth: opts.auth })
}

fn operation(action: Action) -> Operation {
    match action {
        Action::Null => Operation::Null,
        Action::Off => Operation::Off,
        Action::On => Operation::On,
        Action::Reboot => Operation::Reboot,
        Action::Status => Operation::Status,
        Action::Monitor => Operation::DevStatus,
        Action::List | Action::ListStatus | Action::Metadata | Action::ValidateAll => Operation::HostList,
    }
}

fn build_request(opts: &Options) -> Request {
    let mut request = Request::new(operation(opts.action), opts.domain.as_deref().unwrap_or(""), opts.hash);
    if !opts.action.needs_domain() {
        request.domain.clear();
    }
    if opts.use_uuid {
        request.flags |= protocol::request::FLAG_UUID;
    }
    request.seqno = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_micros());
    request
}

async fn exchange(opts: &Options, transport: &Transport, creds: &Credentials) -> Result<Answer, TransportError> {
    let request = build_request(opts);
    let deadline = Instant::now() + Duration::from_secs(u64::from(opts.timeout));
    match transport {
        Transport::Multicast(target) => multicast::run(target, &request, creds, deadline, opts.debug).await,
        Transport::Tcp { address, port } => tcp::run(*address, *port, &request, creds, deadline).await,
        Transport::Vsock { .. } => {
            Err(TransportError::Unsupported("vsock mode (-S) is not implemented yet; use -T address"))
        }
        Transport::Serial { .. } | Transport::VmChannel { .. } => {
            Err(TransportError::Unsupported("serial/VMChannel mode is not implemented yet; use -T address"))
        }
    }
}

/// Prints what the original prints for an answer and returns its exit status.
fn report(opts: &Options, answer: Result<Answer, TransportError>) -> u8 {
    match answer {
        Ok(Answer::HostList(records)) => {
            for record in records {
                println!("{}", record.display_line());
            }
            EXIT_OK
        }
        Ok(Answer::Result(code)) => match code {
            ResultCode::Success | ResultCode::Off => {
                if opts.action == Action::Status {
                    println!("Status: {}", if code == ResultCode::Success { "ON" } else { "OFF" });
                }
                code.byte()
            }
            ResultCode::Failure => {
                eprintln!("Operation failed");
                EXIT_FAIL
            }
            ResultCode::PermissionDenied => {
                eprintln!("Permission denied");
                code.byte()
            }
            ResultCode::HostListFollows | ResultCode::Other(_) => {
                eprintln!("Unknown response ({})", code.byte() as i8);
                code.byte()
            }
        },
        Err(e @ TransportError::NoResult) => {
            eprintln!("{e}");
            255
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("Operation failed");
            EXIT_FAIL
        }
    }
}
