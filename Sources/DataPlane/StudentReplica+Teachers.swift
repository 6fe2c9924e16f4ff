import Transport

/// How a replica follows its teachers (docs/PROTOCOL.md "Elastic rings", "Joining a ring"):
/// the credits it grants, a teacher placed again, and the stream it joins when it enters a
/// ring whose teachers still stream.
extension StudentReplica {
    /// Elastic rings: the coordinator moved a teacher (a lost one is placed again: in epoch 0 of
    /// an offline run, at any step of an online one).
    /// An endpoint that became "" means it is being placed: the wait for logits becomes
    /// ``teacherReplacementWait``. A new endpoint is connected and granted this replica's
    /// window counted from the stream's start (g + W − `streamStart` for the step g it
    /// needs): the new teacher streams epoch 0 from its first step, the steps already taken are
    /// dropped (`StepJoin`), and one credit per consumed step follows as before. Returns the
    /// wait from now on, nil when nothing changed.
    func followTeachers(_ elastic: ElasticRing) async throws(DataPlaneError) -> Duration? {
        let now = elastic.teachers()
        guard now.count == teacherCount, teachers.count == teacherCount, now != knownTeachers else { return nil }
        let before = knownTeachers.count == teacherCount ? knownTeachers : [String](repeating: "", count: teacherCount)
        knownTeachers = now
        for t in 0..<teacherCount where !now[t].isEmpty && now[t] != before[t] {
            do { teachers[t] = try await elastic.connect(now[t]) } catch {
                throw .transport("replica \(rank) cannot reach teacher \(t), placed again at \(now[t]): \(error)")
            }
            let steps = taken + 1 + plan.window - streamStart
            do { try await teachers[t].send(stream.credit(replica: slot, teacher: t, steps: steps)) } catch {
                throw .transport("replica \(rank) could not send credits to teacher \(t): \(error)")
            }
            note("replica \(rank) (slot \(slot)) follows teacher \(t), placed again at \(now[t]): granted \(steps) step(s) "
                + "counted from step \(streamStart); it waits for step \(taken + 1)")
        }
        return now.contains("") ? Self.teacherReplacementWait : timeout
    }

    /// A replica that joined the ring while the teachers stream (offline epoch 0, online runs):
    /// with the ring's state at step g it connects to the teachers and grants each its window
    /// counted from the stream's start, g + W − `streamStart`; the teachers
    /// send it their last steps again, then the stream (docs/PROTOCOL.md "Joining a ring").
    func joinStream() async throws(DataPlaneError) {
        guard let elastic else { return }
        let endpoints = elastic.teachers()
        guard endpoints.count == teacherCount, !endpoints.contains("") else {
            throw .transport("replica \(rank) joined at step \(trainer.globalStep) while the teachers stream, but its task lists "
                + "\(endpoints.filter { !$0.isEmpty }.count) of \(teacherCount) teacher endpoints")
        }
        teachers = []
        for endpoint in endpoints {
            do { teachers.append(try await elastic.connect(endpoint)) } catch {
                throw .transport("replica \(rank) cannot reach teacher \(teachers.count) at \(endpoint): \(error)")
            }
        }
        knownTeachers = endpoints
        taken = trainer.globalStep - 1
        let steps = trainer.globalStep + plan.window - streamStart
        for (t, connection) in teachers.enumerated() {
            do { try await connection.send(stream.credit(replica: slot, teacher: t, steps: steps)) } catch {
                throw .transport("replica \(rank) could not send credits to teacher \(t): \(error)")
            }
        }
        note("replica \(rank) (slot \(slot)) joined at step \(trainer.globalStep) while the teachers stream: granted \(steps) "
            + "step(s) counted from step \(streamStart)")
    }

    func grant(_ steps: Int) async throws(DataPlaneError) {
        guard steps > 0 else { return }
        for (t, connection) in teachers.enumerated() {
            do { try await connection.send(stream.credit(replica: slot, teacher: t, steps: steps)) } catch {
                throw .transport("replica \(rank) could not send credits to teacher \(t): \(error)")
            }
        }
    }
}
