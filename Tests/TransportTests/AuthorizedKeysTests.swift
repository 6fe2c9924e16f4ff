import Testing
import Transport

/// The coordinator's authorized-keys file (docs/OPERATIONS.md "Securing a cluster"): one
/// `KEY NAME ROLE` per line; every mistake names the file, the line and what to write.
@Suite struct AuthorizedKeysTests {
    static let a = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    static let b = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    static let c = "#Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI"  // a Z85 key may start with '#'

    @Test func linesCommentsAndPubFileContentsAreRead() throws {
        let text = """
            # coordinator at tcp://10.0.0.1:7878

            \(Self.a)  worker-a  worker   # the first machine
            public-key = \(Self.b)\talice admin
            \(Self.c) grafana read
            """
        let keys = try AuthorizedKeys(parsing: text, source: "authorized")
        #expect(keys.entries == [
            AuthorizedKey(publicKey: Self.a, name: "worker-a", role: .worker, source: "authorized:3"),
            AuthorizedKey(publicKey: Self.b, name: "alice", role: .admin, source: "authorized:4"),
        ], "a line starting with '#' is a comment, even when it looks like a key")
        #expect(keys.entry(for: Self.b)?.role == .admin)
        #expect(keys.entry(for: Self.c) == nil)
        #expect(keys.publicKeys == [Self.a, Self.b])
        // A name may have several keys (a key being rotated).
        let rotating = try AuthorizedKeys(parsing: "\(Self.a) w1 worker\n\(Self.b) w1 worker\n", source: "f")
        #expect(rotating.entries.map(\.name) == ["w1", "w1"])
        #expect(try AuthorizedKeys(parsing: "", source: "f").entries.isEmpty)
    }

    @Test(arguments: [
        ("\(a) worker-a", "authorized keys f:1: expected KEY NAME ROLE, got 2 field(s): '\(a) worker-a'"),
        ("\(a) w worker extra", "authorized keys f:1: expected KEY NAME ROLE, got 4 field(s): '\(a) w worker extra'"),
        ("# ok\nnot-a-key w worker", "authorized keys f:2: 'not-a-key' is not a 40-character Z85 public key (copy it from the "
            + "node's .pub file)"),
        ("\(a) wörker worker", "authorized keys f:1: name 'wörker' may contain only letters, digits, '-', '_' and '.'"),
        ("\(a) w root", "authorized keys f:1: role 'root' is not one of worker, admin, read"),
        ("\(a) w1 worker\n\n\(a) w2 read", "authorized keys f:3: the key of 'w2' is listed already at f:1; list each key once"),
    ])
    func aBadLineIsRefusedSayingWhereAndWhy(text: String, error expected: String) {
        do {
            let keys = try AuthorizedKeys(parsing: text, source: "f")
            Issue.record("accepted: \(keys)")
        } catch {
            #expect(error.description == expected, "\(error)")
        }
    }

    @Test func z85KeysAreFortyCharactersOfTheAlphabet() {
        #expect(AuthorizedKeys.isZ85Key(Self.a) && AuthorizedKeys.isZ85Key(Self.c))
        #expect(!AuthorizedKeys.isZ85Key(String(Self.a.dropLast())))
        #expect(!AuthorizedKeys.isZ85Key(String(Self.a.dropLast()) + " "))
        #expect(!AuthorizedKeys.isZ85Key(String(Self.a.dropLast()) + "é"))
    }
}
