import Testing
@testable import ClusterCore

@Suite struct VersionPolicyTests {
    @Test(arguments: [
        ("0.4.1", "0.4.7"), ("0.4.7", "0.4.1"), ("0.4.1", "0.4.1"), ("0.4", "0.4.9"), ("0.4.1-beta.2", "0.4.0"),
        ("0.04.1", "0.4.3"), ("12.30.0", "12.30.99"), ("dev", "dev"), ("", ""),
    ])
    func compatible(_ worker: String, _ coordinator: String) {
        #expect(VersionPolicy.incompatibility(worker: worker, coordinator: coordinator) == nil)
    }

    @Test func differentMinorIsRefusedWithTheRule() {
        #expect(VersionPolicy.incompatibility(worker: "0.5.0", coordinator: "0.4.1")
            == "worker version 0.5.0 is not compatible with coordinator version 0.4.1 (major.minor must match); run the same Distillery release on every node")
    }

    @Test(arguments: [("1.4.0", "0.4.0"), ("0.3.9", "0.4.0"), ("0.4", "0.41")])
    func differentMajorOrMinorIsRefused(_ worker: String, _ coordinator: String) {
        let text = VersionPolicy.incompatibility(worker: worker, coordinator: coordinator)
        #expect(text?.contains("(major.minor must match)") == true)
    }

    @Test func unparsableVersionsMustMatchExactly() {
        #expect(VersionPolicy.incompatibility(worker: "dev", coordinator: "0.4.1")
            == "worker version \"dev\" is not compatible with coordinator version 0.4.1 (versions that are not major.minor.patch must match exactly); run the same Distillery release on every node")
        #expect(VersionPolicy.incompatibility(worker: "0.4.1", coordinator: "")
            == "worker version 0.4.1 is not compatible with coordinator version \"\" (versions that are not major.minor.patch must match exactly); run the same Distillery release on every node")
    }

    @Test(arguments: ["", "4", "0.", ".4", "0.4.", "a.b.c", " 0.4.1", "0.-4.1", "0.+4.1", "v0.4.1", "0.٤.1"])
    func unparsable(_ version: String) {
        #expect(VersionPolicy.majorMinor(version) == nil)
        #expect(VersionPolicy.incompatibility(worker: version, coordinator: "0.4.1")?.contains("must match exactly") == true)
    }

    @Test func parsesMajorAndMinor() {
        #expect(VersionPolicy.majorMinor("0.4.1")! == (0, 4))
        #expect(VersionPolicy.majorMinor("10.20")! == (10, 20))
        #expect(VersionPolicy.majorMinor("1.2.3.4")! == (1, 2))
    }
}
