//! The `JobQueue` contract (tests/contract) against each broker adapter: RabbitMQ and SQS (moto)
//! need their services running (`./scripts/services`; the tests fail, never skip, when one is
//! down), Kafka runs on librdkafka's mock cluster. Every case gets fresh, uniquely named queues.
//! The job-table queue runs the same cases in worker/jobstore/tests/queue_contract.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod harness;
mod support;

contract::contract_suite!(rabbitmq, crate::harness::rabbitmq::run);
#[cfg(feature = "sqs")]
contract::contract_suite!(sqs, crate::harness::sqs::run);
#[cfg(feature = "kafka")]
contract::contract_suite!(kafka, crate::harness::kafka::run);
