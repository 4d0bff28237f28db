//! Slow work off the event loop: each request line is answered by a thread
//! pool, through the connection's [`ConnHandle`], while the workers go on
//! serving every other connection.
//!
//! `cargo run --example offload`, then `nc 127.0.0.1 7300` and type lines: each
//! comes back reversed, after `--work` (default 100 ms) of simulated work.
//!
//! - The handler never blocks: it cuts lines with the library's
//!   `LineDecoder` (as the `lines` example does, `--max-line`), and hands
//!   each to the pool with a non-blocking `try_send` on a bounded queue
//!   (`--queue`, default 64 requests, served by `--threads` pool threads,
//!   default 4). When the queue is full the answer is `BUSY` at once, without
//!   waiting for the pool.
//! - Answers come in request order, even though the pool threads finish in any
//!   order: each connection keeps a small reorder buffer ([`Replies`]) that the
//!   pool and the handler fill, and that writes each answer through the handle
//!   once those before it are written.
//! - Backpressure: once [`PAUSE_AT`] requests of one connection wait for
//!   their answers, the handler pauses reading (`Conn::pause_reading`); the
//!   pool resumes it (`ConnHandle::resume_reading`) when they are down to
//!   half. The client's further requests wait in TCP buffers, not in memory.
//! - At most [`MAX_IN_FLIGHT`] requests of one connection may wait for their
//!   answers (more can arrive in the read that crossed [`PAUSE_AT`]); a client
//!   that pipelines more gets `ERROR too many requests in
//!   flight` and is closed (after the answers before it), as is one that sends
//!   an overlong line. A client that reads none of its answers for the write
//!   buffer limit is closed too: an answer is never dropped silently.
//! - A client that closes its side gets its outstanding answers, then EOF.

mod common;

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use clap::Parser;
use common::ServerArgs;
use netecho::framing::LineDecoder;
use netecho::{Conn, ConnHandle, Handler, PushError};

/// A server that answers each line (reversed) from a thread pool.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// The longest line accepted, in bytes (line ending not counted).
    #[arg(long, default_value_t = common::DEFAULT_MAX_LINE)]
    max_line: usize,
    /// Pool threads.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Requests waiting for a pool thread; more are answered `BUSY`.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// The simulated work per request, e.g. `100ms`.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    work: Duration,
}

/// Requests of one connection waiting for their answers, at most.
const MAX_IN_FLIGHT: usize = 32;
/// Waiting requests at which reading pauses; it resumes at half this.
const PAUSE_AT: usize = 8;

/// The answers of one connection, put back in request order.
#[derive(Debug)]
struct Replies {
    handle: ConnHandle,
    /// The sequence number of `slots[0]`.
    next: u64,
    /// One slot per request not yet answered on the wire, oldest first;
    /// `Some` once its answer is ready.
    slots: VecDeque<Option<Vec<u8>>>,
    /// Close once every slot is written.
    close_when_done: bool,
    /// No more answers: the connection is closing or gone.
    done: bool,
    /// The handler paused reading; the next answer below half of
    /// [`PAUSE_AT`] resumes it.
    paused: bool,
}

impl Replies {
    fn new(handle: ConnHandle) -> Self {
        Replies {
            handle,
            next: 0,
            slots: VecDeque::new(),
            close_when_done: false,
            done: false,
            paused: false,
        }
    }

    /// Whether new requests are refused (closing, or the connection is gone).
    fn closing(&self) -> bool {
        self.done || self.close_when_done
    }

    /// A slot for a new request, unless too many are in flight.
    fn reserve(&mut self) -> Option<u64> {
        if self.slots.len() >= MAX_IN_FLIGHT {
            return None;
        }
        self.slots.push_back(None);
        Some(self.next + self.slots.len() as u64 - 1)
    }

    /// The answer to request `seq` is ready: writes it, and those after it
    /// that are ready, if the ones before it are written.
    fn complete(&mut self, seq: u64, answer: Vec<u8>) {
        let slot = seq
            .checked_sub(self.next)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.slots.get_mut(i));
        if let Some(slot) = slot {
            *slot = Some(answer);
        }
        self.flush();
    }

    /// Ends the connection with `message`, after the answers before it.
    fn fail(&mut self, message: &[u8]) {
        if self.closing() {
            return;
        }
        self.slots.push_back(Some(message.to_vec()));
        self.close_when_done = true;
        self.flush();
    }

    /// Closes the connection once the outstanding answers are written.
    fn close_when_done(&mut self) {
        self.close_when_done = true;
        self.flush();
    }

    fn flush(&mut self) {
        while !self.done {
            let Some(Some(_)) = self.slots.front() else {
                break;
            };
            let Some(Some(answer)) = self.slots.pop_front() else {
                break;
            };
            self.next += 1;
            match self.handle.write(&answer) {
                Ok(()) => {}
                Err(PushError::Full) => {
                    // The client reads none of its answers: rather than drop
                    // one (and break the request/answer pairing), close.
                    log::info!("offload: client not reading its answers, closing");
                    let _ = self.handle.close();
                    self.finish();
                }
                Err(_) => self.finish(),
            }
        }
        if self.paused && !self.done && self.slots.len() <= PAUSE_AT / 2 {
            self.paused = false;
            let _ = self.handle.resume_reading();
        }
        if self.slots.is_empty() && self.close_when_done && !self.done {
            let _ = self.handle.close();
            self.finish();
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.slots.clear();
    }
}

fn lock(replies: &Mutex<Replies>) -> MutexGuard<'_, Replies> {
    replies.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request for the pool.
#[derive(Debug)]
struct Job {
    seq: u64,
    line: Vec<u8>,
    replies: Arc<Mutex<Replies>>,
}

impl Job {
    /// Whether its answer is no longer wanted (the connection is gone).
    fn is_cancelled(&self) -> bool {
        let replies = lock(&self.replies);
        replies.done || replies.handle.is_closed()
    }

    /// Computes the answer and hands it to the connection.
    fn run(self) {
        let answer = answer(&self.line);
        lock(&self.replies).complete(self.seq, answer);
    }
}

/// The answer to a line: its characters reversed, and a LF.
fn answer(line: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(line) {
        Ok(text) => {
            let mut answer: String = text.chars().rev().collect();
            answer.push('\n');
            answer.into_bytes()
        }
        Err(_) => b"ERROR not UTF-8\n".to_vec(),
    }
}

/// Starts `threads` pool threads that run the jobs sent on the returned
/// queue, which holds at most `queue` of them; each does `work` first (the
/// slow part, here only simulated).
fn spawn_pool(
    threads: usize,
    queue: usize,
    work: impl Fn() + Send + Sync + 'static,
) -> std::io::Result<SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel(queue);
    let rx = Arc::new(Mutex::new(rx));
    let work = Arc::new(work);
    for i in 0..threads {
        let rx = Arc::clone(&rx);
        let work = Arc::clone(&work);
        std::thread::Builder::new()
            .name(format!("offload-{i}"))
            .spawn(move || serve_jobs(&rx, &*work))?;
    }
    Ok(tx)
}

/// A pool thread: runs jobs until every sender is gone.
fn serve_jobs(rx: &Mutex<Receiver<Job>>, work: &dyn Fn()) {
    loop {
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        if job.is_cancelled() {
            continue;
        }
        work();
        job.run();
    }
}

/// One connection: hands its requests to the pool.
#[derive(Debug)]
struct Offload {
    pool: SyncSender<Job>,
    lines: LineDecoder,
    /// Shared with the pool's jobs; made in `on_open`.
    replies: Option<Arc<Mutex<Replies>>>,
}

impl Offload {
    fn new(pool: SyncSender<Job>, max_line: usize) -> Self {
        Offload {
            pool,
            lines: LineDecoder::new(max_line),
            replies: None,
        }
    }
}

/// Queues one request, or answers `BUSY` if the pool's queue is full.
fn request(pool: &SyncSender<Job>, replies: &Arc<Mutex<Replies>>, line: &[u8]) {
    let seq = {
        let mut replies = lock(replies);
        if replies.closing() {
            return;
        }
        let Some(seq) = replies.reserve() else {
            let message = format!("ERROR too many requests in flight (max {MAX_IN_FLIGHT})\n");
            replies.fail(message.as_bytes());
            return;
        };
        seq
    };
    let job = Job {
        seq,
        line: line.to_vec(),
        replies: Arc::clone(replies),
    };
    let refusal: &[u8] = match pool.try_send(job) {
        Ok(()) => return,
        Err(TrySendError::Full(_)) => b"BUSY\n",
        Err(TrySendError::Disconnected(_)) => b"ERROR no pool\n",
    };
    lock(replies).complete(seq, refusal.to_vec());
}

impl Handler for Offload {
    fn on_open(&mut self, conn: &mut Conn) {
        self.replies = Some(Arc::new(Mutex::new(Replies::new(conn.handle()))));
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let Some(replies) = &self.replies else { return };
        let max = self.lines.max_length();
        let mut lines = self.lines.feed(data);
        let too_long = loop {
            match lines.next_line() {
                Some(Ok(line)) => request(&self.pool, replies, &line),
                Some(Err(_)) => break true,
                None => break false,
            }
        };
        let mut replies = lock(replies);
        if too_long {
            replies.fail(common::too_long_message(max).as_bytes());
        } else if !replies.closing() && replies.slots.len() >= PAUSE_AT {
            // Decided under the lock the pool completes under, so a resume
            // cannot slip in between.
            replies.paused = true;
            conn.pause_reading();
        }
    }

    /// Not the default close: answers may still be coming from the pool.
    fn on_read_closed(&mut self, _conn: &mut Conn) {
        let Some(replies) = &self.replies else { return };
        if let Some(last) = self.lines.finish() {
            request(&self.pool, replies, &last);
        }
        lock(replies).close_when_done();
    }
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let work = args.work;
    let pool = spawn_pool(args.threads, args.queue, move || std::thread::sleep(work))?;
    let max_line = args.max_line;
    common::serve(&args.server, 7300, move || {
        Offload::new(pool.clone(), max_line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::testing::Harness;
    use netecho::{CloseReason, TcpServer};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    /// A pool without threads: the test runs the jobs itself, in the order
    /// it likes.
    fn manual_pool(queue: usize) -> (SyncSender<Job>, Receiver<Job>) {
        mpsc::sync_channel(queue)
    }

    fn text(peer: &mut Harness) -> String {
        peer.run_commands();
        String::from_utf8(peer.read()).unwrap()
    }

    #[test]
    fn answers_come_in_request_order_whatever_order_the_work_ends() {
        let (pool, jobs) = manual_pool(8);
        let mut peer = Harness::open(Offload::new(pool, 1024));
        peer.send(b"abc\nxyz\r\nlast\n");
        let (first, second, third) = (
            jobs.try_recv().unwrap(),
            jobs.try_recv().unwrap(),
            jobs.try_recv().unwrap(),
        );
        third.run();
        second.run();
        assert_eq!(text(&mut peer), "", "answered before the first request");
        first.run();
        assert_eq!(text(&mut peer), "cba\nzyx\ntsal\n");
        assert!(!peer.is_closed());
    }

    #[test]
    fn busy_at_once_when_the_queue_is_full() {
        let (pool, jobs) = manual_pool(1);
        let mut other = Harness::open(Offload::new(pool.clone(), 1024));
        other.send(b"fills the queue\n");
        let mut peer = Harness::open(Offload::new(pool, 1024));
        peer.send(b"one\n");
        assert_eq!(text(&mut peer), "BUSY\n");
        // Answers still come in order: a BUSY waits for the answer before it.
        jobs.try_recv().unwrap().run();
        peer.send(b"two\nthree\n");
        assert_eq!(text(&mut peer), "", "BUSY overtook an answer");
        jobs.try_recv().unwrap().run();
        assert_eq!(text(&mut peer), "owt\nBUSY\n");
        assert_eq!(text(&mut other), "eueuq eht sllif\n");
    }

    const TEXT: &str = "héllo wörld\r\n😀 ok\n\nπ≈3\r\n";
    const ANSWERS: &str = "dlröw olléh\nko 😀\n\n3≈π\n";

    #[test]
    fn byte_by_byte_lines_are_answered_whole() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::open(Offload::new(pool, 1024));
        let mut got = String::new();
        for byte in TEXT.as_bytes() {
            peer.send(&[*byte]);
            while let Ok(job) = jobs.try_recv() {
                job.run();
            }
            got += &text(&mut peer);
        }
        assert_eq!(got, ANSWERS);
    }

    #[test]
    fn random_split_points_give_the_same_answers() {
        let mut rng = fastrand::Rng::with_seed(0x0ff1);
        for _ in 0..200 {
            let (pool, jobs) = manual_pool(64);
            let mut peer = Harness::open(Offload::new(pool, 1024));
            let input = TEXT.repeat(3);
            let mut rest = input.as_bytes();
            let mut pending = Vec::new();
            while !rest.is_empty() {
                let n = rng.usize(1..=rest.len().min(10));
                peer.send(&rest[..n]);
                rest = &rest[n..];
                pending.extend(jobs.try_iter());
                // Finish the work in a random order.
                if !pending.is_empty() && rng.bool() {
                    pending.swap_remove(rng.usize(..pending.len())).run();
                }
            }
            // Answers resume paused reads, which bring more requests.
            for _ in 0..1000 {
                for job in pending.drain(..) {
                    job.run();
                }
                peer.run_commands();
                pending.extend(jobs.try_iter());
                if pending.is_empty() {
                    break;
                }
            }
            assert_eq!(text(&mut peer), ANSWERS.repeat(3));
        }
    }

    #[test]
    fn a_pipelining_client_is_paused_not_refused() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::open(Offload::new(pool, 1024));
        // One request a send: reading pauses at PAUSE_AT waiting requests.
        for i in 0..20 {
            peer.send(format!("{i}\n").as_bytes());
        }
        let mut queued: Vec<Job> = jobs.try_iter().collect();
        assert_eq!(queued.len(), PAUSE_AT);
        let mut answered = 0;
        for _ in 0..100 {
            if queued.is_empty() {
                break;
            }
            for job in queued.drain(..) {
                job.run();
            }
            peer.run_commands();
            queued.extend(jobs.try_iter());
            answered += 1;
        }
        let got = text(&mut peer);
        let want: String = (0..20).map(|i| format!("{}\n", answer_text(i))).collect();
        assert_eq!(got, want);
        assert!(answered > 1, "reading resumed in rounds");
        assert!(!peer.is_closed());
    }

    fn answer_text(i: usize) -> String {
        i.to_string().chars().rev().collect()
    }

    #[test]
    fn too_many_requests_in_flight_get_an_error_and_a_close() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::open(Offload::new(pool, 1024));
        let requests: String = (0..MAX_IN_FLIGHT + 5)
            .map(|i| format!("{i:02}\n"))
            .collect();
        peer.send(requests.as_bytes());
        let queued: Vec<Job> = jobs.try_iter().collect();
        assert_eq!(queued.len(), MAX_IN_FLIGHT);
        for job in queued {
            job.run();
        }
        let want: String = (0..MAX_IN_FLIGHT)
            .map(|i| format!("{}\n", format!("{i:02}").chars().rev().collect::<String>()))
            .collect::<String>()
            + "ERROR too many requests in flight (max 32)\n";
        assert_eq!(text(&mut peer), want);
        assert!(peer.saw_eof());
        peer.half_close();
        assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
    }

    #[test]
    fn an_overlong_line_is_refused_after_the_answers_before_it() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::open(Offload::new(pool, 8));
        peer.send(b"ok\n").send(b"123456789");
        assert_eq!(text(&mut peer), "");
        jobs.try_recv().unwrap().run();
        assert_eq!(text(&mut peer), "ko\nERROR line too long (max 8 bytes)\n");
        assert!(peer.saw_eof());
        assert!(jobs.try_recv().is_err());
    }

    #[test]
    fn eof_waits_for_the_answers_then_closes() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::open(Offload::new(pool, 1024));
        peer.send(b"ab\ncd").half_close();
        assert!(!peer.is_closed());
        for job in jobs.try_iter() {
            job.run();
        }
        assert_eq!(text(&mut peer), "ba\ndc\n");
        assert!(peer.saw_eof());
        assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
    }

    #[test]
    fn work_for_a_closed_connection_is_cancelled() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::open(Offload::new(pool, 1024));
        peer.send(b"never mind\n").reset();
        let job = jobs.try_recv().unwrap();
        assert!(job.is_cancelled());
        job.run();
    }

    #[test]
    fn a_client_that_reads_no_answers_is_closed() {
        let (pool, jobs) = manual_pool(64);
        let mut peer = Harness::builder()
            .peer_window(10)
            .write_buffer_limit(100)
            .open(Offload::new(pool, 1024));
        for _ in 0..20 {
            peer.send(b"0123456789\n");
            for job in jobs.try_iter() {
                job.run();
            }
            peer.run_commands();
        }
        let got = peer.read_to_eof();
        assert!(peer.saw_eof());
        // Whole answers, the first ones, then EOF.
        let got = String::from_utf8(got).unwrap();
        assert!(got.len() < 20 * 11 && got.len() % 11 == 0, "{got:?}");
        assert!(got.lines().all(|l| l == "9876543210"), "{got:?}");
    }

    fn connect(server: &netecho::ServerHandle) -> (TcpStream, BufReader<TcpStream>) {
        let stream = TcpStream::connect(server.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        (stream, reader)
    }

    fn line(reader: &mut BufReader<TcpStream>) -> String {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn loopback() {
        // One pool thread whose "work" waits for the test's go, a queue of one.
        let (started_tx, started) = mpsc::channel();
        let (go, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let pool = spawn_pool(1, 1, move || {
            let _ = started_tx.send(());
            let _ = go_rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
        })
        .unwrap();
        let server = TcpServer::builder()
            .host([127, 0, 0, 1])
            .port(0)
            .workers(1)
            .handler(move || Offload::new(pool.clone(), 1024))
            .spawn()
            .unwrap();
        let (mut a, mut a_in) = connect(&server);
        let (mut b, mut b_in) = connect(&server);
        let (mut c, mut c_in) = connect(&server);
        a.write_all(b"first\n").unwrap();
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        // The pool thread is busy with A's request: B's waits in the queue,
        // and C, finding the queue full, is answered at once, on the same
        // worker that serves A and B.
        b.write_all("sécond\n".as_bytes()).unwrap();
        c.write_all(b"third\n").unwrap();
        assert_eq!(line(&mut c_in), "BUSY\n");
        go.send(()).unwrap();
        assert_eq!(line(&mut a_in), "tsrif\n");
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        go.send(()).unwrap();
        assert_eq!(line(&mut b_in), "dnocés\n");
        // A client closing its side gets EOF after its answers.
        a.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = String::new();
        a_in.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "");
        drop((a, a_in, b, b_in, c, c_in));
        server.shutdown();
        server.join().unwrap();
    }
}
