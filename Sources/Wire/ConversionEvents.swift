internal import DistilleryProtoC

extension ListEvents {
    init(c: Distillery__V1__ListEvents) throws(WireError) {
        try self.init(runID: CRead.string(c.run_id, "list_events.run_id"), limit: c.limit)
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__ListEvents> {
        let p = a.message(distillery__v1__list_events__init)
        p.pointee.run_id = try a.string(runID, "list_events.run_id")
        p.pointee.limit = limit
        return p
    }
}

extension EventEntry {
    init(c: Distillery__V1__EventEntry, path: String) throws(WireError) {
        try self.init(
            atUnixMs: c.at_unix_ms,
            kind: CRead.string(c.kind, "\(path).kind"),
            message: CRead.string(c.message, "\(path).message"),
            runID: CRead.string(c.run_id, "\(path).run_id"))
    }

    func c(_ a: CArena, path: String) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__EventEntry> {
        let p = a.message(distillery__v1__event_entry__init)
        p.pointee.at_unix_ms = atUnixMs
        p.pointee.kind = try a.string(kind, "\(path).kind")
        p.pointee.message = try a.string(message, "\(path).message")
        p.pointee.run_id = try a.string(runID, "\(path).run_id")
        return p
    }
}

extension EventList {
    init(c: Distillery__V1__EventList) throws(WireError) {
        try self.init(events: CRead.messages(c.n_events, c.events, "event_list.events") { (m, path) throws(WireError) in
            try EventEntry(c: m, path: path)
        })
    }

    func c(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Distillery__V1__EventList> {
        let p = a.message(distillery__v1__event_list__init)
        p.pointee.n_events = events.count
        p.pointee.events = try a.messages(events) { (m, i) throws(WireError) in
            try m.c(a, path: "event_list.events[\(i)]")
        }
        return p
    }
}
