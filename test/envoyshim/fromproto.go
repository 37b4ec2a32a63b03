package envoyshim

import (
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
)

// FromExtAuthz returns the gate Config of an Envoy ext_authz filter
// configuration (the typed_config of envoy.filters.http.ext_authz), so a
// test can run the very settings an example ships: body buffering,
// encode_raw_headers, include_peer_certificate, failure_mode_allow,
// status_on_error and the Check timeout. Authz and Upstream stay to be set.
func FromExtAuthz(f *extauthzv3.ExtAuthz) Config {
	c := Config{
		EncodeRawHeaders:       f.GetEncodeRawHeaders(),
		IncludePeerCertificate: f.GetIncludePeerCertificate(),
		FailureModeAllow:       f.GetFailureModeAllow(),
		StatusOnError:          int(f.GetStatusOnError().GetCode()),
	}
	if t := f.GetGrpcService().GetTimeout(); t != nil {
		c.Timeout = t.AsDuration()
	}
	if b := f.GetWithRequestBody(); b != nil {
		c.Body = &BodySettings{
			MaxRequestBytes:     b.GetMaxRequestBytes(),
			AllowPartialMessage: b.GetAllowPartialMessage(),
			PackAsBytes:         b.GetPackAsBytes(),
		}
	}
	return c
}
