//! `docfleet`: one binary, the role chosen by subcommand.

mod api;
mod auth;
mod cli;
mod commands;
mod config_file;
mod documents;
mod extractor_child;
mod local_files;
mod peak_memory;
mod profile;
mod progress;
mod settings;
mod telemetry;
mod wiring;
mod worker_loop;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{BenchCommand, Cli, Command, QueuesCommand};

// candle allocates heavily per op; mimalloc makes the model markedly faster than the system malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The default `service.name` of the process's spans (`OTEL_SERVICE_NAME` overrides it), and
/// whether it may export them.
fn telemetry_role(command: &Command) -> (&'static str, telemetry::Export) {
    use telemetry::Export::{FromEnv, Never};
    match command {
        Command::Api { .. } => ("docfleet-api", FromEnv),
        Command::Worker { .. } => ("docfleet-worker", FromEnv),
        Command::ExtractWorker { .. } => ("docfleet-extract", Never),
        _ => ("docfleet", FromEnv),
    }
}

/// `docfleet jobs | head` closes stdout early: println! then panics with "Broken pipe". Exit
/// quietly as a killed-by-SIGPIPE process would (128 + 13) instead of printing a backtrace.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    if let Err(e) = config_file::apply(&std::env::args_os().collect::<Vec<_>>()) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let (service, export) = telemetry_role(&cli.command);
    // Dropped last, after the runtime: flushes the spans still buffered.
    let _telemetry = match telemetry::init(&cli.log_format, export, service) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        // An extractor child is one thread on stdin/stdout: no async runtime to start.
        Command::ExtractWorker { max_file_bytes } => {
            extractor_child::serve_extract_worker(&cli.common, *max_file_bytes)
                .map(|()| ExitCode::SUCCESS)
        }
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(run(cli))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let common = &cli.common;
    match cli.command {
        Command::Run {
            paths,
            pipeline,
            store,
            tags,
            json,
            quiet,
        } => {
            let tags = tags.into_iter().collect();
            let show = !quiet && !json && std::io::stderr().is_terminal();
            let profile = profile::stored(common, &store).await?;
            let report = commands::run::run_batch(
                common,
                &pipeline,
                profile.as_deref(),
                &paths,
                &tags,
                show,
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                report.print_summary();
            }
            // Non-zero when any document failed, so scripts notice.
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Worker {
            pipeline,
            store,
            queue,
            worker,
        } => {
            commands::worker::worker(common, &pipeline, &store, &queue, &worker).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Enqueue {
            sources,
            store,
            queue,
            chunk_max_tokens,
            chunk_overlap_tokens,
            callback_url,
            tags,
            json,
        } => {
            let options = docfleet_core::job::JobOptions {
                chunk_max_tokens,
                chunk_overlap_tokens,
                callback_url,
                batch_callback_url: None,
                tags: tags.into_iter().collect(),
            };
            let done =
                commands::enqueue::enqueue(common, &store, &queue, &sources, options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                for j in &done.jobs {
                    println!("{}  {}", j.job_id, j.source);
                }
                eprintln!(
                    "{} jobs enqueued (batch {})",
                    done.jobs.len(),
                    done.batch_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Queues {
            which: QueuesCommand::Init { queue, lease_secs },
        } => {
            let done = wiring::init_queues(
                &queue,
                common.storage.aws_region.as_deref(),
                std::time::Duration::from_secs(lease_secs),
            )
            .await?;
            eprintln!("{done}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Redrive {
            job_ids,
            all_tenants,
            store,
            queue,
        } => {
            let n =
                commands::redrive::redrive(common, &store, &queue, &job_ids, all_tenants).await?;
            eprintln!("{n} dead jobs queued again");
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs {
            state,
            all_tenants,
            limit,
            json,
            store,
        } => {
            let jobs = commands::jobs::list(common, &store, state, all_tenants, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                commands::jobs::print_table(&jobs);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Job {
            job_id,
            json,
            store,
        } => {
            let job = commands::jobs::show(common, &store, job_id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&job)?);
            } else {
                commands::jobs::print_table(std::slice::from_ref(&job));
                if let Some(e) = &job.error {
                    println!("error: {e}");
                }
                if let Some(t) = &job.timings {
                    println!("timings (ms): {}", serde_json::to_string(t)?);
                }
                for a in job.artifacts.iter().flatten() {
                    println!("artifact: {a}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Api { store, queue, api } => {
            api::api(common, &store, &queue, &api).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { env_vars: true, .. } => {
            for var in config_file::all_vars() {
                println!("{var}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            env_vars: false,
            pipeline,
            store,
            queue,
            worker,
            api,
        } => {
            let effective = serde_json::json!({
                "common": common, "pipeline": pipeline, "store": store, "queue": queue,
                "worker": worker, "api": api,
            });
            println!("{}", serde_json::to_string_pretty(&effective)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants { which, store } => {
            commands::tenants::tenants(common, &store, which).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { which, store, keys } => {
            commands::keys::keys(common, &store, &keys, which).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            all_tenants,
            action,
            limit,
            before,
            json,
            store,
        } => {
            let query = commands::audit::AuditQuery {
                tenant: (!all_tenants)
                    .then(|| common.tenant().map(str::to_owned))
                    .transpose()?,
                action,
                before,
                limit,
            };
            let records = commands::audit::list(common, &store, &query).await?;
            if json {
                for r in &records {
                    println!("{}", serde_json::to_string(r)?);
                }
            } else {
                commands::audit::print_table(&records);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search {
            query,
            top_k,
            search,
            store,
            json,
        } => {
            // The tenant's model: its vectors live apart from every other model's.
            let profile = profile::stored(common, &store).await?;
            let model = profile.as_ref().and_then(|a| a.profile.model.as_deref());
            let common = &common.for_model(model.unwrap_or(settings::DEFAULT_MODEL))?;
            commands::search::search(common, &query, top_k, &search, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            dir,
            pipeline,
            modes,
            max_queries,
            json,
        } => {
            let modes: Vec<_> = modes.iter().map(|m| m.mode()).collect();
            commands::eval::eval(common, &pipeline, &dir, &modes, max_queries, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gc {
            dry_run,
            json,
            store,
        } => {
            let report = commands::gc::gc(common, &store, dry_run).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let verb = if dry_run { "would remove" } else { "removed" };
                for t in &report.tenants {
                    println!(
                        "{}: {verb} {} documents older than {} days ({} points, {} objects), kept {}",
                        t.tenant,
                        t.removed.len(),
                        t.retention_days,
                        t.points_deleted,
                        t.objects_deleted,
                        t.documents_kept
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { json } => {
            commands::stats::stats(common, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchCommand::Embed {
                    texts,
                    words,
                    batch_sizes,
                    precisions,
                    texts_json,
                },
        } => {
            commands::bench::bench_embed(
                common,
                texts,
                words,
                &batch_sizes,
                &precisions,
                texts_json.as_deref(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            which:
                BenchCommand::Run {
                    dir,
                    pipeline,
                    keep_data,
                },
        } => {
            commands::bench::bench_run(common, &pipeline, dir, keep_data).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ExtractWorker { .. } => unreachable!("served in main, without a runtime"),
    }
}
