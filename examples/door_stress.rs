//! A hostile crowd at a door, for measuring it: `IDLE` connections that never send a CONNECT
//! and `GARBAGE` connections that send random bytes, each opened again as soon as the door
//! closes it, for `SECONDS`. Meanwhile measure a real client, e.g.
//! `thingbench bench --broker mqtt://ADDR --inflight 1 --requests 3000`.
//!
//! `cargo run --release --example door_stress -- 127.0.0.1:1883 3000 200 60`
//!
//! Every second it prints how many of its connections are open and how many the door closed.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One connection of the crowd, and whether it sends garbage.
struct Member {
    stream: Option<TcpStream>,
    garbage: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: door_stress ADDR IDLE GARBAGE SECONDS";
    let (Some(addr), Some(idle), Some(garbage), Some(seconds)) = (
        args.first().and_then(|a| a.parse::<SocketAddr>().ok()),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
        args.get(3).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut crowd: Vec<Member> = (0..idle + garbage)
        .map(|i| Member {
            stream: None,
            garbage: i >= idle,
        })
        .collect();
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let opened_at = Instant::now();
    let mut closed_by_door = 0u64;
    let mut failed_connects = 0u64;
    let mut last_report = Instant::now();
    let mut first_round = true;
    while Instant::now() < end {
        for member in &mut crowd {
            let closed = member.stream.as_ref().is_none_or(|stream| {
                let mut buf = [0u8; 256];
                match (&*stream).read(&mut buf) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                }
            });
            if !closed {
                continue;
            }
            if member.stream.take().is_some() {
                closed_by_door += 1;
            }
            match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(mut stream) => {
                    if member.garbage {
                        let mut bytes: Vec<u8> =
                            (0..64).map(|_| random().to_le_bytes()[0]).collect();
                        if bytes[0] == 0x10 {
                            bytes[0] = 0x11;
                        }
                        let _ = stream.write_all(&bytes);
                    }
                    let _ = stream.set_nonblocking(true);
                    member.stream = Some(stream);
                }
                Err(_) => failed_connects += 1,
            }
        }
        if first_round {
            first_round = false;
            println!(
                "opened {} connections in {:.2} s",
                crowd.iter().filter(|m| m.stream.is_some()).count(),
                opened_at.elapsed().as_secs_f64()
            );
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            println!(
                "{:5.1} s  open {:5}  closed by the door {:7}  connects failed {:5}",
                started.elapsed().as_secs_f64(),
                crowd.iter().filter(|m| m.stream.is_some()).count(),
                closed_by_door,
                failed_connects
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
