package identity

import (
	"errors"
	"fmt"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/identity/dpop"
)

// checkBinding enforces DPoP (RFC 9449) in both directions: a DPoP-bound
// token (cnf.jkt) is refused as Bearer, the DPoP scheme needs a bound token
// and exactly one valid proof, an issuer with RequireDPoP accepts only the
// DPoP scheme, and a DPoP proof beside a Bearer token is a malformed shape
// (refused unless the issuer sets DPoP.IgnoreProofWithBearer). The proof is
// checked on every request, cached or not.
func (v *Verifier) checkBinding(cred credential, p *Principal, is *issuer, r Request) error {
	if cred.scheme == schemeBearer {
		switch {
		case p.CnfJKT != "":
			return invalid(detailBoundAsBearer, errors.New("token has cnf.jkt but came with the Bearer scheme"))
		case is.cfg.RequireDPoP:
			return invalid(detailDPoPRequired, fmt.Errorf("issuer %q requires DPoP", is.cfg.Issuer))
		case len(r.DPoP) > 0 && !is.cfg.DPoP.IgnoreProofWithBearer:
			return denial.WithDetail(denial.InvalidDPoPProof, detailProofWithBearer, errors.New("DPoP header with the Bearer scheme"))
		}
		return nil
	}
	switch {
	case p.CnfJKT == "":
		return invalid(detailNotBound, errors.New("DPoP scheme with a token without cnf.jkt"))
	case len(r.DPoP) == 0:
		return denial.WithDetail(denial.InvalidDPoPProof, detailNoProof, errors.New("no DPoP header"))
	case len(r.DPoP) > 1:
		return denial.WithDetail(denial.InvalidDPoPProof, detailTwoProofs, fmt.Errorf("%d DPoP headers", len(r.DPoP)))
	}
	htu, err := dpop.HTU(r.PublicOrigin, r.Path)
	if err != nil {
		return denial.WithDetail(denial.InvalidDPoPProof, detailBadHTU, fmt.Errorf("htu: %w", err))
	}
	err = v.dpop.Check(dpop.Params{Proof: r.DPoP[0], Method: r.Method, URL: htu, AccessToken: cred.token, JKT: p.CnfJKT})
	if err == nil {
		return nil
	}
	var d *denial.Error
	if errors.As(err, &d) {
		return err
	}
	return denial.New(denial.InvalidDPoPProof, err)
}
