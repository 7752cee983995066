package record

// Group is the records of one type, in message order.
type Group struct {
	Type    RecordType
	Records []ServerRecord // each keeps its original Index
}

// GroupByType splits the valid records by type. Groups appear in the order
// of their type's first record; within a group the message order is kept.
// Upstream treats a message as single-typed (the first record's type); mixed
// messages are allowed here and each group can be stored on its own.
func (m *Message) GroupByType() []Group {
	if m == nil || len(m.Records) == 0 {
		return nil
	}
	var groups []Group
	pos := make(map[RecordType]int, 2)
	for _, r := range m.Records {
		i, ok := pos[r.Type]
		if !ok {
			i = len(groups)
			pos[r.Type] = i
			groups = append(groups, Group{Type: r.Type})
		}
		groups[i].Records = append(groups[i].Records, r)
	}
	return groups
}
