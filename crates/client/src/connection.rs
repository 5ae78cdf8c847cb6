//! The connection to the payroll service and the calls a payroll system or a
//! timesheet client makes, each retried on UNAVAILABLE.

use std::future::Future;
use std::path::Path;

use kvp_proto::kvp::payroll::v1 as pb;
use pb::payroll_service_client::PayrollServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Status, Streaming};

use crate::retry::Retry;

/// Mutual TLS as the service requires it: the CA that issued the service's
/// certificate, and the client's own certificate and key (PEM), issued for
/// one municipality.
#[derive(Clone)]
pub struct ClientTls {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
    domain: Option<String>,
}

impl std::fmt::Debug for ClientTls {
    // The private key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// From PEM text already read.
    pub fn from_pem(
        ca: impl Into<Vec<u8>>,
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
            domain: None,
        }
    }

    /// From PEM files.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, ConnectError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ConnectError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        Ok(Self::from_pem(read(ca)?, read(cert)?, read(key)?))
    }

    /// The name the service's certificate is checked against, when it is not
    /// the host of the address (e.g. a tunnel).
    #[must_use]
    pub fn domain_name(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    fn config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key));
        match &self.domain {
            Some(domain) => config.domain_name(domain.clone()),
            None => config,
        }
    }
}

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A credentials file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The address is not a URI.
    #[error("{url} is not an address: {reason}")]
    Address {
        /// The address given.
        url: String,
        /// Why it is not one.
        reason: String,
    },
    /// The TLS settings are unusable, or the service could not be reached.
    #[error("connecting to {url}: {source}")]
    Transport {
        /// The address.
        url: String,
        /// What went wrong.
        source: tonic::transport::Error,
    },
}

/// A client of `kvp.payroll.v1.PayrollService`. Cheap to clone: clones share
/// one HTTP/2 connection, which carries many calls at once.
#[derive(Debug, Clone)]
pub struct PayrollClient {
    grpc: PayrollServiceClient<Channel>,
    retry: Retry,
}

impl PayrollClient {
    /// Connects to `url` (`https://…` with `tls`; `http://…` without, for a
    /// development service), failing if the service cannot be reached now.
    pub async fn connect(url: &str, tls: Option<&ClientTls>) -> Result<Self, ConnectError> {
        let transport = |source| ConnectError::Transport {
            url: url.to_owned(),
            source,
        };
        let mut endpoint =
            Channel::from_shared(url.to_owned()).map_err(|e| ConnectError::Address {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls.config()).map_err(transport)?;
        }
        Ok(Self::new(endpoint.connect().await.map_err(transport)?))
    }

    /// Over a channel made by the caller.
    pub fn new(channel: Channel) -> Self {
        Self {
            grpc: PayrollServiceClient::new(channel),
            retry: Retry::default(),
        }
    }

    /// Accepting answers of up to `bytes` (tonic's default is 4 MiB). A
    /// run's answer lists the participants it held and those it paid
    /// without an employee number: a close of some 100 000 participants
    /// none of whom has one answers more than 4 MiB.
    #[must_use]
    pub fn with_max_answer_bytes(mut self, bytes: usize) -> Self {
        self.grpc = self.grpc.max_decoding_message_size(bytes);
        self
    }

    /// With another retry policy ([`Retry::NONE`] to see every UNAVAILABLE).
    #[must_use]
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The generated client, for calls this type does not wrap (answers'
    /// metadata, `Simulate`, `GetPayRun`, `BatchConfirmPayments`).
    pub fn grpc(&self) -> PayrollServiceClient<Channel> {
        self.grpc.clone()
    }

    /// Submits a signed timesheet; the same payload again answers the stored
    /// assessment with `duplicate = true`.
    pub async fn submit(
        &self,
        request: &pb::SubmitTimesheetRequest,
    ) -> Result<pb::SubmitTimesheetResponse, Status> {
        self.unary(request, |mut grpc, request| async move {
            grpc.submit_timesheet(request).await
        })
        .await
    }

    /// Closes the municipality's month (`YYYY-MM`); a repeated call answers
    /// the same run with `created = false`.
    pub async fn close_period(
        &self,
        municipality_id: &str,
        month: &str,
    ) -> Result<pb::ClosePeriodResponse, Status> {
        let request = pb::ClosePeriodRequest {
            municipality_id: municipality_id.to_owned(),
            month: month.to_owned(),
        };
        self.unary(&request, |mut grpc, request| async move {
            grpc.close_period(request).await
        })
        .await
    }

    /// Every run of the municipality (all pages), oldest month first; with
    /// `month`, only that month's.
    pub async fn list_pay_runs(
        &self,
        municipality_id: &str,
        month: Option<&str>,
    ) -> Result<Vec<pb::PayRun>, Status> {
        let mut runs = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListPayRunsRequest {
                municipality_id: municipality_id.to_owned(),
                month: month.unwrap_or_default().to_owned(),
                page_size: 100,
                page_token: page_token.clone(),
            };
            let page = self
                .unary(&request, |mut grpc, request| async move {
                    grpc.list_pay_runs(request).await
                })
                .await?;
            runs.extend(page.runs);
            if page.next_page_token.is_empty() {
                return Ok(runs);
            }
            page_token = page.next_page_token;
        }
    }

    /// A unary call of `request`, retried as [`Retry`] says.
    async fn unary<Req, Resp, F, Fut>(&self, request: &Req, call: F) -> Result<Resp, Status>
    where
        Req: Clone,
        F: Fn(PayrollServiceClient<Channel>, Req) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        self.retry
            .run(|| call(self.grpc.clone(), request.clone()))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The run's pay lines, read one at a time; a stream broken off is
    /// resumed after the last line received.
    pub fn pay_lines(&self, run_id: &str) -> PayLines {
        PayLines {
            client: self.clone(),
            run_id: run_id.to_owned(),
            after_line_id: String::new(),
            stream: None,
            failures: 0,
        }
    }

    /// Records the outcome of one payslip; the same confirmation again
    /// answers `duplicate = true`, a different one ALREADY_EXISTS.
    pub async fn confirm_payment(
        &self,
        request: &pb::ConfirmPaymentRequest,
    ) -> Result<pb::ConfirmPaymentResponse, Status> {
        self.unary(request, |mut grpc, request| async move {
            grpc.confirm_payment(request).await
        })
        .await
    }
}

/// A run's pay lines as they stream. [`PayLines::next`] reopens a broken
/// stream after the last line it gave (`after_line_id`), so no line is
/// missed or given twice; UNAVAILABLE in a row is retried as any call is.
#[derive(Debug)]
pub struct PayLines {
    client: PayrollClient,
    run_id: String,
    after_line_id: String,
    stream: Option<Streaming<pb::StreamPayLinesResponse>>,
    /// UNAVAILABLE answers since the last line received.
    failures: u32,
}

impl PayLines {
    /// The next line; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<pb::PayLine>, Status> {
        loop {
            let received = match &mut self.stream {
                Some(stream) => stream.message().await,
                None => {
                    let request = pb::StreamPayLinesRequest {
                        run_id: self.run_id.clone(),
                        after_line_id: self.after_line_id.clone(),
                    };
                    match self.client.grpc.clone().stream_pay_lines(request).await {
                        Ok(response) => {
                            self.stream = Some(response.into_inner());
                            continue;
                        }
                        Err(status) => Err(status),
                    }
                }
            };
            match received {
                Ok(Some(message)) => {
                    self.failures = 0;
                    let line = message
                        .pay_line
                        .ok_or_else(|| Status::internal("a stream message without its pay line"))?;
                    self.after_line_id.clone_from(&line.line_id);
                    return Ok(Some(line));
                }
                Ok(None) => return Ok(None),
                Err(status)
                    if status.code() == Code::Unavailable
                        && self.failures + 1 < self.client.retry.attempts =>
                {
                    self.failures += 1;
                    self.stream = None;
                    tokio::time::sleep(self.client.retry.pause(self.failures)).await;
                }
                Err(status) => return Err(status),
            }
        }
    }

    /// Every remaining line.
    pub async fn collect(mut self) -> Result<Vec<pb::PayLine>, Status> {
        let mut lines = Vec::new();
        while let Some(line) = self.next().await? {
            lines.push(line);
        }
        Ok(lines)
    }
}
