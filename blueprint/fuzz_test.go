package blueprint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// FuzzParse checks that Parse never panics, that every failure is a
// *ValidationError coded EUNPROCESSABLE, and that a blueprint that parses
// always renders: validation leaves no reference unresolved.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse("stamp.yaml", data)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) == 0 {
				t.Fatalf("got %T %v, want a *ValidationError with problems", err, err)
			}
			if stamp.ErrorCode(err) != stamp.EUNPROCESSABLE {
				t.Fatalf("got code %q, want %q", stamp.ErrorCode(err), stamp.EUNPROCESSABLE)
			}
			for _, p := range verr.Problems {
				if p.File != "stamp.yaml" || p.Line < 0 || p.Message == "" {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		if !ValidVersion(b.Version) || stamp.ValidateName("blueprint", b.Name) != nil {
			t.Fatalf("accepted name %q version %q", b.Name, b.Version)
		}
		in := RenderInput{Tenant: "acme", Params: map[string]string{}, Secrets: map[string]string{}, DatabaseURLs: map[string]string{}}
		for name := range b.Parameters {
			in.Params[name] = "p"
		}
		for name := range b.Secrets {
			in.Secrets[name] = "s"
		}
		for name := range b.Databases {
			in.DatabaseURLs[name] = "sqlite:x"
		}
		rt, err := b.Render(in)
		if err != nil {
			t.Fatalf("Render of a valid blueprint: %v", err)
		}
		if len(rt.Services) != len(b.Services) || len(rt.Services) == 0 {
			t.Fatalf("rendered %d services of %d", len(rt.Services), len(b.Services))
		}
		for _, hook := range []string{stamp.StepMigrate, stamp.StepSeed} {
			if _, err := b.Hook(hook, in); err != nil {
				t.Fatalf("Hook %s of a valid blueprint: %v", hook, err)
			}
		}
	})
}

// FuzzExpand checks that Expand never panics, that "$$" escaping round
// trips, and that no "${" survives expansion unless the input escaped it.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "${a}", "$${a}", "x${db.main.url}y", "${", "${}", "$", "$$$", "${a${b}}", "$HOME", "${secret.k}$"} {
		f.Add(s)
	}
	refs := map[string]string{"a": "A", "db.main.url": "sqlite:x", "secret.k": "v}"}
	lookup := func(ref string) (string, bool) { v, ok := refs[ref]; return v, ok }
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Expand(s, lookup)
		if err != nil {
			if !strings.Contains(err.Error(), "reference") {
				t.Fatalf("error %q does not name the reference", err)
			}
		} else if !strings.Contains(s, "$$") && strings.Contains(got, "${") {
			t.Fatalf("Expand(%q) = %q: a reference survived", s, got)
		}
		escaped := strings.ReplaceAll(s, "$", "$$")
		if back, err := Expand(escaped, lookup); err != nil || back != s {
			t.Fatalf("Expand(%q) = %q, %v; want %q", escaped, back, err, s)
		}
	})
}
