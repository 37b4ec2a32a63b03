package mcp

// message checks the envelope and the params of the message read, and builds
// the Message.
func (r *reading) message() (*Message, error) {
	kind, msg, code := r.envelope()
	if msg == "" {
		code, msg = r.checkParams()
	}
	if msg != "" {
		return nil, &Error{Code: code, ID: r.validID(), Msg: msg}
	}
	m := &Message{Kind: kind, Method: r.method, MetaProtocolVersion: r.params.metaVersion}
	if r.idKind == 's' || r.idKind == 'n' {
		m.ID = r.validID()
	}
	q := &r.params
	switch r.method {
	case "tools/call":
		m.Name, m.Tool, m.Arguments = q.name, q.name, q.args
	case "prompts/get":
		m.Name, m.Arguments = q.name, q.args
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		m.Name = q.uri
	case "initialize":
		m.ProtocolVersion = q.version
	}
	return m, nil
}

// envelope checks jsonrpc, the top-level members, id, method, result and
// error, and returns the message kind or a failed rule's message and code.
// A result response needs a string or integer id; an error response may have
// none or null (JSON-RPC answers unidentifiable requests so).
func (r *reading) envelope() (Kind, string, int) {
	switch {
	case r.jsonrpcKind != 's' || !r.jsonrpcOK:
		return "", msgVersion, CodeInvalidRequest
	case r.unknown:
		return "", msgUnknownMember, CodeInvalidRequest
	case r.methodKind != 0:
		return r.requestKind()
	case r.resultKind == 0 && r.errorKind == 0:
		return "", msgNoMethod, CodeInvalidRequest
	case r.resultKind != 0 && r.errorKind != 0:
		return "", msgResultAndError, CodeInvalidRequest
	case r.paramsKind != 0:
		return "", msgResponseParams, CodeInvalidRequest
	case r.resultKind != 0 && r.idKind == 0:
		return "", msgResponseID, CodeInvalidRequest
	case r.idKind != 0 && r.idKind != 's' && r.idKind != 'n' && (r.resultKind != 0 || r.idKind != 'z'):
		return "", msgIDType, CodeInvalidRequest
	case r.errorKind != 0 && (r.errorKind != 'o' || !r.errCode || !r.errMessage):
		return "", msgErrorObject, CodeInvalidRequest
	}
	return KindResponse, "", 0
}

// requestKind is envelope for a message with a method.
func (r *reading) requestKind() (Kind, string, int) {
	switch {
	case r.methodKind != 's':
		return "", msgMethodType, CodeInvalidRequest
	case r.resultKind != 0 || r.errorKind != 0:
		return "", msgMixed, CodeInvalidRequest
	case r.idKind != 0 && r.idKind != 's' && r.idKind != 'n':
		return "", msgIDType, CodeInvalidRequest
	case r.paramsKind == 'a':
		return "", msgParamsArray, CodeInvalidParams
	case r.paramsKind != 0 && r.paramsKind != 'o':
		return "", msgParamsType, CodeInvalidRequest
	case r.idKind == 0:
		return KindNotification, "", 0
	}
	return KindRequest, "", 0
}

// checkParams checks the params members that the method requires and the
// policy reads.
func (r *reading) checkParams() (int, string) {
	q := &r.params
	switch {
	case q.metaKind != 0 && q.metaKind != 'o':
		return CodeInvalidParams, msgMeta
	case q.metaVersionKind != 0 && q.metaVersionKind != 's':
		return CodeInvalidParams, msgMetaVersion
	}
	switch r.method {
	case "tools/call", "prompts/get":
		switch {
		case r.paramsKind == 0:
			return CodeInvalidParams, msgParamsMissing
		case q.nameKind != 's':
			return CodeInvalidParams, msgName
		case q.argsKind != 0 && q.argsKind != 'o':
			return CodeInvalidParams, msgArguments
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		if r.paramsKind == 0 {
			return CodeInvalidParams, msgParamsMissing
		}
		if q.uriKind != 's' {
			return CodeInvalidParams, msgURI
		}
	case "initialize":
		if r.paramsKind == 0 {
			return CodeInvalidParams, msgParamsMissing
		}
		if q.versionKind != 's' {
			return CodeInvalidParams, msgInitVersion
		}
	}
	return 0, ""
}
