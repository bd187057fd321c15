//! The room passphrase, frame by frame: nobody joins before proving it,
//! the server proves first, a wrong proof is refused, and guesses are
//! limited per address. (Over plain TCP here, where the binding is empty;
//! the TLS binding is tested end to end in the `lanchat` crate.)

use lanchat_proto::pake::{self, Pake, Passphrase, Side};
use lanchat_proto::{ClientFrame, ServerFrame};

use crate::support::{Client, TestServer};

async fn passphrase_room() -> TestServer {
    TestServer::with_config(|c| {
        c.passphrase = Passphrase::from_file_text(b"open sesame");
    })
    .await
}

/// Runs the exchange with `passphrase`; the server's frame after our proof
/// (or `None` if its own proof did not check out and we hung up).
async fn prove(client: &mut Client, passphrase: &[u8]) -> Option<ServerFrame> {
    let (state, msg) = Pake::start(passphrase, "lab");
    let msg = pake::to_hex(&msg);
    client.send(&ClientFrame::Pake { msg }).await;
    let ServerFrame::Pake { msg, proof } = client.recv().await else {
        panic!("expected the server's pake frame");
    };
    let theirs = pake::from_hex(&msg, pake::MAX_MESSAGE_LEN).unwrap();
    let proofs = state.finish(&theirs, &[]).unwrap();
    let server_proof = pake::from_hex(&proof, pake::BINDING_LEN).unwrap();
    if !proofs.check(Side::Server, &server_proof) {
        return None;
    }
    let proof = pake::to_hex(&proofs.prove(Side::Client));
    client.send(&ClientFrame::PakeProof { proof }).await;
    Some(client.recv().await)
}

/// Sends the first message of an exchange with a guessed passphrase.
async fn start_guess(client: &mut Client) {
    let (_, msg) = Pake::start(b"guess", "lab");
    let msg = pake::to_hex(&msg);
    client.send(&ClientFrame::Pake { msg }).await;
}

/// Asserts the server refuses with `code`: an error, a goodbye, the end.
async fn expect_refusal(client: &mut Client, code: &str) {
    let ServerFrame::Error { code: got, .. } = client.recv().await else {
        panic!("expected an error");
    };
    assert_eq!(got, code);
    assert!(matches!(client.recv().await, ServerFrame::Bye { .. }));
    assert_eq!(client.try_recv().await, None);
}

fn join(name: &str) -> ClientFrame {
    ClientFrame::Join {
        name: name.into(),
        caps: vec![],
        label: None,
    }
}

#[tokio::test]
async fn nobody_joins_without_the_passphrase() {
    let server = passphrase_room().await;
    let mut eve = server.connect().await;
    assert!(eve.greeting.passphrase);
    eve.send(&join("eve")).await;
    expect_refusal(&mut eve, "passphrase_required").await;

    // The right passphrase, then the join.
    let mut ann = server.connect().await;
    assert_eq!(
        prove(&mut ann, b"open sesame").await,
        Some(ServerFrame::PakeOk)
    );
    ann.send(&join("ann")).await;
    assert!(matches!(ann.recv().await, ServerFrame::Welcome { .. }));
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_passphrase_fails_the_servers_proof_and_is_refused() {
    let server = passphrase_room().await;
    // The client sees the server's proof fail first.
    let mut eve = server.connect().await;
    assert_eq!(prove(&mut eve, b"open sesame!").await, None);

    // A client that sends a proof anyway is refused with the reason.
    let mut mallory = server.connect().await;
    start_guess(&mut mallory).await;
    assert!(matches!(mallory.recv().await, ServerFrame::Pake { .. }));
    let proof = pake::to_hex(&[0u8; 32]);
    mallory.send(&ClientFrame::PakeProof { proof }).await;
    expect_refusal(&mut mallory, "wrong_passphrase").await;
    server.shutdown().await;
}

#[tokio::test]
async fn guesses_are_limited_per_address_and_a_right_one_is_given_back() {
    let server = passphrase_room().await;
    // A right passphrase costs nothing.
    for _ in 0..8 {
        let mut ann = server.connect().await;
        assert_eq!(
            prove(&mut ann, b"open sesame").await,
            Some(ServerFrame::PakeOk)
        );
    }
    // Five wrong ones use the minute's attempts...
    for _ in 0..5 {
        let mut eve = server.connect().await;
        assert_eq!(prove(&mut eve, b"guess").await, None);
    }
    // ...and the sixth attempt is refused before any work is done.
    let mut eve = server.connect().await;
    start_guess(&mut eve).await;
    expect_refusal(&mut eve, "too_many_guesses").await;
    server.shutdown().await;
}

/// The IRC door cannot prove a passphrase, so in such a room it is shut:
/// an IRC client is told why and closed, before it can register.
#[tokio::test]
async fn the_irc_door_of_a_passphrase_room_is_shut() {
    use tokio::io::AsyncReadExt;
    let server = passphrase_room().await;
    let mut irc = tokio::net::TcpStream::connect(server.irc).await.unwrap();
    let mut said = Vec::new();
    let read = irc.read_to_end(&mut said);
    tokio::time::timeout(std::time::Duration::from_secs(15), read)
        .await
        .expect("closed in time")
        .unwrap();
    let said = String::from_utf8_lossy(&said);
    assert!(said.starts_with("ERROR :"), "{said}");
    assert!(said.contains("this room has a passphrase"), "{said}");
    server.shutdown().await;
}
