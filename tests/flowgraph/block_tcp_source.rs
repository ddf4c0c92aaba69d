//! `tcp_source` against servers that misbehave: one that sends half an item and vanishes, one
//! that resets the connection (`SO_LINGER` 0), and one that closes cleanly, read with
//! `on_close = "end"` (the stream ends) and `on_close = "error"` (the run fails naming it).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use weir_core::{BlockStats, FlowgraphSpec, RunError};

/// Ten cf32 items, as bytes.
fn ten_items() -> Vec<u8> {
    (0..20u32).flat_map(|n| (n as f32).to_le_bytes()).collect()
}

/// Serves one connection with `serve`, runs `tcp_source` (cf32) -> `vector_sink` against it,
/// and returns the run's result, the source's statistics and what the sink kept.
fn run_against(
    on_close: &str,
    key: &str,
    serve: impl FnOnce(TcpStream) + Send + 'static,
) -> (Result<(), RunError>, Arc<BlockStats>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        serve(stream);
    });
    let text = format!(
        "connections = [\"src.out -> keep.in\"]\n\
         [blocks.src]\ntype = \"tcp_source\"\naddress = \"{address}\"\non_close = \"{on_close}\"\n\
         [blocks.keep]\ntype = \"vector_sink\"\nkey = \"{key}\"\n"
    );
    let registry = weir::registry();
    let built = FlowgraphSpec::parse(&text, "tcp.toml", &registry)
        .expect("loads")
        .build(&registry)
        .expect("builds");
    let stats = built
        .blocks()
        .iter()
        .find(|b| b.name == "src")
        .expect("src")
        .stats
        .clone();
    let result = built.run().map(|_| ());
    server.join().expect("server thread");
    (result, stats, address)
}

fn taken(key: &str) -> usize {
    weir_plugin_dsp::vector_sink::take::<weir_core::Cf32>(key).map_or(0, |v| v.len())
}

#[test]
fn a_clean_close_on_an_item_boundary_ends_the_stream_or_fails_as_the_flowgraph_says() {
    let (result, stats, _) = run_against("end", "tcp::clean_end", |mut s| {
        s.write_all(&ten_items()).expect("send");
    });
    result.expect("a closed peer ends the stream");
    assert_eq!(taken("tcp::clean_end"), 10);
    assert_eq!(stats.counter("partial_item_bytes"), None);

    let (result, _, address) = run_against("error", "tcp::clean_error", |mut s| {
        s.write_all(&ten_items()).expect("send");
    });
    let e = result.expect_err("this stream must not end").to_string();
    assert!(e.contains("block `src` failed"), "{e}");
    assert!(
        e.contains(&format!("{address} closed the connection")),
        "{e}"
    );
    assert!(e.contains("on_close = \"error\""), "{e}");
}

#[test]
fn half_an_item_then_gone_is_an_error_with_the_bytes_counted() {
    for on_close in ["end", "error"] {
        let (result, stats, address) = run_against(on_close, "tcp::half", |mut s| {
            let mut bytes = ten_items();
            bytes.extend_from_slice(&[1, 2, 3, 4]);
            s.write_all(&bytes).expect("send");
        });
        let e = result
            .expect_err("a half item is never the end")
            .to_string();
        assert!(
            e.contains(&format!(
                "{address} closed the connection inside an item (4 of 8 bytes received, not \
                 emitted)"
            )),
            "{on_close}: {e}"
        );
        assert_eq!(stats.counter("partial_item_bytes"), Some(4), "{on_close}");
    }
}

#[test]
fn a_reset_connection_is_an_error_naming_the_peer() {
    for on_close in ["end", "error"] {
        let (result, _, address) = run_against(on_close, "tcp::reset", |mut s| {
            s.write_all(&ten_items()).expect("send");
            // Closed with SO_LINGER 0: an RST instead of a FIN.
            socket2::SockRef::from(&s)
                .set_linger(Some(std::time::Duration::ZERO))
                .expect("SO_LINGER 0");
        });
        let e = result.expect_err("a reset is never the end").to_string();
        // The reset may reach the source while its connect is still completing: either way
        // it is an error naming the peer.
        assert!(
            e.contains(&format!("receiving from {address}"))
                || e.contains(&format!("cannot connect to {address}")),
            "{on_close}: {e}"
        );
        assert!(e.contains("reset"), "{on_close}: {e}");
    }
}
