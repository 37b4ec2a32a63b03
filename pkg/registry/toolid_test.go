package registry

import "testing"

// TestCheckIDBuiltAtLoad: the id a Check reports for every tool of the
// default registry (and for names it does not hold) is server + "/" + tool,
// as when it was concatenated per Check.
func TestCheckIDBuiltAtLoad(t *testing.T) {
	r := loadDefault(t)
	n := 0
	for server, s := range r.servers {
		for tool := range s.tools {
			if got, want := r.Check(server, tool, nil, nil).ID, server+"/"+tool; got != want {
				t.Errorf("Check(%q, %q).ID = %q; want %q", server, tool, got, want)
			}
			n++
		}
		if got, want := r.Check(server, "no_such_tool", nil, nil).ID, server+"/no_such_tool"; got != want {
			t.Errorf("Check(%q, no_such_tool).ID = %q; want %q", server, got, want)
		}
	}
	if n == 0 {
		t.Fatal("the default registry holds no tools")
	}
	for _, c := range [][2]string{{"", ""}, {"x/y", "z"}, {"no_such_server", "t"}} {
		if got, want := r.Check(c[0], c[1], nil, nil).ID, c[0]+"/"+c[1]; got != want {
			t.Errorf("Check(%q, %q).ID = %q; want %q", c[0], c[1], got, want)
		}
	}
}
