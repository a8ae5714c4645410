//! The local CA is made once and kept; a client trusting it accepts the server's certificate
//! and refuses each bad one for its own reason; a client CA tells certified clients apart.

use std::net::{IpAddr, Ipv4Addr};

use rustls::pki_types::ServerName;
use tokio::net::TcpListener;

use super::*;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A rustls client trusting `ca_pem`, with a client certificate when given.
fn client(ca_pem: &str, cert: Option<(&str, &str)>) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("a CA");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = rustls_pemfile::certs(&mut cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("PEM");
            let key = rustls_pemfile::private_key(&mut key.as_bytes())
                .expect("PEM")
                .expect("a key");
            builder.with_client_auth_cert(chain, key).expect("fits")
        }
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One handshake between `tls` showing `shown` and `connector` naming `host`: what the client
/// got, and what the door saw.
fn shake(
    tls: &DoorTls,
    shown: Option<CertFault>,
    connector: &tokio_rustls::TlsConnector,
    host: &str,
) -> (
    Result<(), std::io::Error>,
    TlsSession,
    Result<(), HandshakeFailure>,
) {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let name = ServerName::try_from(host.to_owned()).expect("a name");
        let client = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            match connector.connect(name, tcp).await {
                Ok(mut stream) => {
                    // TLS 1.3: the server hears of a refused client certificate once the
                    // client writes.
                    let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, b"\x10").await;
                    let _ = tokio::io::AsyncWriteExt::flush(&mut stream).await;
                    Ok(stream)
                }
                Err(e) => Err(e),
            }
        };
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            let (session, accepted) = tls.accept(shown, tcp).await;
            let outcome = match accepted {
                Ok(mut stream) => {
                    let mut byte = [0u8; 1];
                    tokio::io::AsyncReadExt::read(&mut stream, &mut byte)
                        .await
                        .map(|_| ())
                        .map_err(|e| HandshakeFailure::of(&e))
                }
                Err(failure) => Err(failure),
            };
            (session, outcome)
        };
        let (client, (session, outcome)) = tokio::join!(client, server);
        (client.map(|_| ()), session, outcome)
    })
}

#[test]
fn the_local_ca_is_made_once_and_kept_out_of_git() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = LocalCa::open(dir.path()).expect("made");
    let again = LocalCa::open(dir.path()).expect("opened");
    assert_eq!(first.cert_pem(), again.cert_pem(), "one CA, kept");
    let tls_dir = dir.path().join(".thingbench/tls");
    assert_eq!(first.ca_file(), tls_dir.join("ca.pem"));
    assert_eq!(
        std::fs::read_to_string(tls_dir.join(".gitignore")).expect("ignored"),
        "*\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tls_dir)
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only its owner reads the CA's key");
    }
    // A door made from it writes the server's certificate beside the CA.
    DoorTls::new(&TlsSetup::default(), dir.path(), LOOPBACK).expect("door TLS");
    for file in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        assert!(tls_dir.join(file).is_file(), "{file}");
    }
    // Its folder without the CA's key: one sentence that says what to do.
    std::fs::remove_file(tls_dir.join("ca.key")).expect("remove");
    let words = LocalCa::open(dir.path())
        .err()
        .expect("incomplete")
        .to_string();
    assert!(
        words.contains("ca.key") && words.contains("remove the folder"),
        "{words}"
    );
}

#[test]
fn two_processes_starting_at_once_agree_on_one_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_owned();
    let opened: Vec<String> = (0..4)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || LocalCa::open(&root).expect("opened").cert_pem().to_owned())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(opened.windows(2).all(|w| w[0] == w[1]));
    let names: Vec<_> = std::fs::read_dir(root.join(".thingbench"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("tls")], "no leftovers");
}

#[test]
fn a_client_trusting_the_local_ca_accepts_the_server_and_refuses_each_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let setup = TlsSetup {
        faults: CertFault::ALL.to_vec(),
        ..TlsSetup::default()
    };
    let tls = DoorTls::new(&setup, dir.path(), LOOPBACK).expect("door TLS");
    let ca = LocalCa::open(dir.path()).expect("the CA");
    let connector = client(ca.cert_pem(), None);
    for host in ["localhost", "127.0.0.1"] {
        let (client, session, outcome) = shake(&tls, None, &connector, host);
        assert!(client.is_ok(), "{host}: {client:?}");
        assert_eq!(outcome, Ok(()));
        assert_eq!(session.shown, None);
    }
    for (fault, why) in [
        (CertFault::Untrusted, "UnknownIssuer"),
        (CertFault::WrongHost, "not valid for name"),
        (CertFault::Expired, "certificate expired"),
    ] {
        let (client, session, outcome) = shake(&tls, Some(fault), &connector, "localhost");
        let err = client.expect_err("a bad certificate").to_string();
        assert!(err.contains(why), "{fault:?}: {err}");
        assert_eq!(session.shown, Some(fault));
        assert!(
            matches!(outcome, Err(HandshakeFailure::Refused(_))),
            "{fault:?}: {outcome:?}"
        );
    }
    // Nothing it shows or says holds a key.
    assert!(!format!("{tls:?}").contains("PRIVATE"));
}

#[test]
fn a_client_ca_tells_certified_clients_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clients = LocalCa::make("test clients CA").expect("a client CA");
    let client_ca = dir.path().join("clients.pem");
    std::fs::write(&client_ca, clients.cert_pem()).expect("write");
    let setup = TlsSetup {
        client_ca: Some(client_ca),
        ..TlsSetup::default()
    };
    let tls = DoorTls::new(&setup, dir.path(), LOOPBACK).expect("door TLS");
    let ca = LocalCa::open(dir.path()).expect("the CA");

    let (cert, key) = clients.client_pem("gw01").expect("a client certificate");
    let certified = client(ca.cert_pem(), Some((&cert, &key)));
    let (said, session, outcome) = shake(&tls, None, &certified, "localhost");
    assert!(said.is_ok(), "{said:?}");
    assert_eq!(outcome, Ok(()));
    assert!(session.client_certified && session.client_ca_required);

    // Without a certificate the handshake completes: refusing it is the gate's business.
    let uncertified = client(ca.cert_pem(), None);
    let (said, session, outcome) = shake(&tls, None, &uncertified, "localhost");
    assert!(said.is_ok(), "{said:?}");
    assert_eq!(outcome, Ok(()));
    assert!(!session.client_certified);

    // A certificate of another CA is refused in the handshake.
    let stranger = LocalCa::make("test stranger CA").expect("another CA");
    let (cert, key) = stranger.client_pem("gw01").expect("a client certificate");
    let (_, _, outcome) = shake(
        &tls,
        None,
        &client(ca.cert_pem(), Some((&cert, &key))),
        "localhost",
    );
    assert!(
        matches!(outcome, Err(HandshakeFailure::ClientCertificate(_))),
        "{outcome:?}"
    );
}

#[test]
fn given_files_that_are_not_pem_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("server.pem");
    std::fs::write(&cert, "hello").expect("write");
    let setup = TlsSetup {
        cert: Some((cert.clone(), dir.path().join("missing.key"))),
        ..TlsSetup::default()
    };
    let words = DoorTls::new(&setup, dir.path(), LOOPBACK)
        .expect_err("not PEM")
        .to_string();
    assert!(
        words.contains("server.pem") && words.contains("no PEM certificate"),
        "{words}"
    );
    // With a given certificate, a fault of the right CA cannot be made.
    let ca = LocalCa::make("test CA").expect("a CA");
    let (pem, key) = ca.client_pem("localhost").expect("a certificate");
    std::fs::write(&cert, pem).expect("write");
    let key_file = dir.path().join("server.key");
    std::fs::write(&key_file, key).expect("write");
    let setup = TlsSetup {
        cert: Some((cert, key_file)),
        faults: vec![CertFault::WrongHost],
        ..TlsSetup::default()
    };
    let words = DoorTls::new(&setup, dir.path(), LOOPBACK)
        .expect_err("no CA")
        .to_string();
    assert!(
        words.contains("\"wrong-host\"") && words.contains("--tls-cert"),
        "{words}"
    );
}
