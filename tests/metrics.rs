//! The `metrics` feature: what a recorder sees of connections opening and
//! closing (by reason), their durations, the active gauge, and the bytes
//! and PROXY rejections each worker flushes (at the latest when it stops).

mod util;

#[cfg(not(feature = "metrics"))]
#[test]
fn metrics_need_the_feature() {
    eprintln!("skipping the metrics tests: build with `--features metrics`");
}

#[cfg(feature = "metrics")]
mod with_feature {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
        Recorder, SharedString, Unit,
    };
    use netecho::metrics as names;
    use netecho::{Listener, ProxyProtocol, TcpServer};

    use crate::util::{self, TestResult, assert_echo, connect, expect_closed};

    /// One metric's value: a sum (counters, histogram sample count) and,
    /// for gauges, the current value in thousandths.
    #[derive(Default)]
    struct Cell {
        value: AtomicU64,
        gauge: Mutex<f64>,
    }

    impl CounterFn for Cell {
        fn increment(&self, value: u64) {
            self.value.fetch_add(value, Ordering::AcqRel);
        }
        fn absolute(&self, value: u64) {
            self.value.store(value, Ordering::Release);
        }
    }

    impl GaugeFn for Cell {
        fn increment(&self, value: f64) {
            *self.gauge.lock().unwrap() += value;
        }
        fn decrement(&self, value: f64) {
            *self.gauge.lock().unwrap() -= value;
        }
        fn set(&self, value: f64) {
            *self.gauge.lock().unwrap() = value;
        }
    }

    impl HistogramFn for Cell {
        fn record(&self, value: f64) {
            assert!(value >= 0.0);
            self.value.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Keeps every metric by its name and labels, `name{k=v,...}`.
    #[derive(Clone, Default)]
    struct Store(Arc<Mutex<BTreeMap<String, Arc<Cell>>>>);

    impl Store {
        fn cell(&self, key: &Key) -> Arc<Cell> {
            let mut name = key.name().to_owned();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            if !labels.is_empty() {
                name = format!("{name}{{{}}}", labels.join(","));
            }
            self.0.lock().unwrap().entry(name).or_default().clone()
        }

        fn count(&self, name: &str) -> u64 {
            self.0
                .lock()
                .unwrap()
                .get(name)
                .map_or(0, |c| c.value.load(Ordering::Acquire))
        }

        fn gauge(&self, name: &str) -> f64 {
            self.0
                .lock()
                .unwrap()
                .get(name)
                .map_or(f64::NAN, |c| *c.gauge.lock().unwrap())
        }
    }

    impl Recorder for Store {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.cell(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.cell(key))
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(self.cell(key))
        }
    }

    /// One test: the recorder is process-wide.
    #[test]
    fn connections_bytes_durations_and_proxy_rejections_are_recorded() -> TestResult {
        let store = Store::default();
        metrics::set_global_recorder(store.clone()).map_err(|_| "a recorder is installed")?;
        let server = TcpServer::builder()
            .listener(Listener::tcp(([127, 0, 0, 1], 0)))
            .listener(Listener::tcp(([127, 0, 0, 1], 0)).proxy_protocol(ProxyProtocol::required()))
            .workers(2)
            .spawn()?;
        let echo = server.local_addrs()[0].as_tcp().ok_or("tcp")?;
        let proxied = server.local_addrs()[1].as_tcp().ok_or("tcp")?;
        let (l0, l1) = (echo.to_string(), proxied.to_string());

        let mut a = connect(echo)?;
        let mut b = connect(echo)?;
        assert_echo(&mut a, b"hello")?;
        assert_echo(&mut b, b"world!")?;
        let active = format!("{}{{listener={l0}}}", names::CONNECTIONS_ACTIVE);
        assert_eq!(store.gauge(&active), 2.0);
        a.shutdown(std::net::Shutdown::Write)?;
        util::expect_eof(&mut a)?;
        let mut bad = connect(proxied)?;
        bad.write_all(b"not a header\r\n")?;
        expect_closed(&mut bad)?;

        b.shutdown(std::net::Shutdown::Write)?;
        util::expect_eof(&mut b)?;
        server.shutdown();
        server.join()?;

        let opened =
            |l: &str| store.count(&format!("{}{{listener={l}}}", names::CONNECTIONS_OPENED));
        assert_eq!((opened(&l0), opened(&l1)), (2, 1));
        assert_eq!(store.gauge(&active), 0.0);
        let closed = |l: &str, r: &str| {
            store.count(&format!(
                "{}{{listener={l},reason={r}}}",
                names::CONNECTIONS_CLOSED
            ))
        };
        assert_eq!(closed(&l0, "peer_closed"), 2);
        assert_eq!(closed(&l1, "proxy_rejected"), 1);
        let durations = format!("{}{{listener={l0}}}", names::CONNECTION_DURATION);
        assert_eq!(store.count(&durations), 2);
        let stats = server.stats();
        assert_eq!(store.count(names::BYTES_READ), stats.bytes_read);
        assert_eq!(store.count(names::BYTES_WRITTEN), 11);
        assert_eq!(
            store.count(&format!("{}{{cause=malformed}}", names::PROXY_REJECTED)),
            1
        );
        Ok(())
    }
}
