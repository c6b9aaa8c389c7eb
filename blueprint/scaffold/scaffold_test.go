package scaffold_test

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/blueprint/scaffold"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		src   string // the app's directory, seen from the blueprint's ("../bp" from the app)
		want  scaffold.Hints
	}{
		{
			name:  "empty directory",
			files: fstest.MapFS{},
			src:   ".",
			want:  scaffold.Hints{Name: "My-App"},
		},
		{
			name:  "go module beside the blueprint",
			files: fstest.MapFS{"go.mod": file("module example.com/tools/Ledger_Web\n\ngo 1.26\n")},
			src:   "../ledger",
			want: scaffold.Hints{
				Name: "ledger-web", Stack: "go", Sources: []string{"go.mod"},
				Build:   []string{"go", "build", "-C", "../ledger", "-o", "../bp/bin/ledger-web", "."},
				Command: []string{"bin/ledger-web"},
			},
		},
		{
			name:  "go module in the blueprint directory",
			files: fstest.MapFS{"go.mod": file("module \"app\"\n")},
			src:   ".",
			want: scaffold.Hints{
				Name: "app", Stack: "go", Sources: []string{"go.mod"},
				Build: []string{"go", "build", "-o", "bin/app", "."}, Command: []string{"bin/app"},
			},
		},
		{
			name: "node app with a lock file",
			files: fstest.MapFS{
				"package.json":      file(`{"name": "@acme/board", "main": "server.js", "scripts": {"start": "node x.js"}}`),
				"package-lock.json": file("{}"),
			},
			src: ".",
			want: scaffold.Hints{
				Name: "board", Stack: "node", Sources: []string{"package.json"}, Requires: []string{"node"},
				Build: []string{"npm", "ci", "--omit=dev"}, Command: []string{"node", "server.js"},
			},
		},
		{
			name:  "node app started by a script",
			files: fstest.MapFS{"package.json": file(`{"name": "board", "scripts": {"start": "node bin/www"}}`)},
			src:   "app",
			want: scaffold.Hints{
				Name: "board", Stack: "node", Sources: []string{"package.json"}, Requires: []string{"node"},
				Build: []string{"npm", "install", "--omit=dev", "--prefix", "app"}, Command: []string{"node", "bin/www"},
			},
		},
		{
			name: "python app with a Procfile",
			files: fstest.MapFS{
				"pyproject.toml": file("[project]\nname = \"notes\"\nrequires-python = \">=3.11\"\n"),
				"Procfile":       file("web: gunicorn notes:app --bind 0.0.0.0:$PORT\nrelease: python -m notes migrate\n"),
			},
			src: ".",
			want: scaffold.Hints{
				Name: "My-App", Stack: "python", Sources: []string{"pyproject.toml", "Procfile"},
				Requires: []string{"python3 >= 3.11"},
				Command:  []string{"gunicorn", "notes:app", "--bind", "0.0.0.0:$PORT"},
				Migrate:  []string{"python", "-m", "notes", "migrate"},
			},
		},
		{
			name: "dockerfile in exec and shell form",
			files: fstest.MapFS{"Dockerfile": file("FROM scratch\nEXPOSE 8080/tcp 9090\n" +
				"ENTRYPOINT [\"/app/server\"]\nCMD --verbose --port 8080\n")},
			src: ".",
			want: scaffold.Hints{
				Name: "My-App", Sources: []string{"Dockerfile"}, Port: 8080,
				Command: []string{"/app/server", "--verbose", "--port", "8080"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scaffold.Detect(tt.files, scaffold.Where{App: tt.src, Blueprint: "../bp", AppName: "My App!"})
			// The directory's name is turned into a DNS label.
			if tt.want.Name == "My-App" {
				tt.want.Name = "my-app"
			}
			if !equalHints(got, tt.want) {
				t.Errorf("Detect:\n got %+v\nwant %+v", got, tt.want)
			}
			out := scaffold.Write(got)
			bp, err := blueprint.Parse(blueprint.FileName, out)
			if err != nil {
				t.Fatalf("the written blueprint does not parse: %v\n%s", err, out)
			}
			if bp.Name != tt.want.Name {
				t.Errorf("written name = %q, want %q", bp.Name, tt.want.Name)
			}
		})
	}
}

func equalHints(a, b scaffold.Hints) bool {
	return a.Name == b.Name && a.Stack == b.Stack && a.Port == b.Port &&
		slices.Equal(a.Build, b.Build) && slices.Equal(a.Command, b.Command) &&
		slices.Equal(a.Migrate, b.Migrate) && slices.Equal(a.Requires, b.Requires) &&
		slices.Equal(a.Sources, b.Sources)
}

// TestWritePortVariables checks that a platform's $PORT becomes the
// blueprint's variables and other "${" is escaped, so the command means
// what it meant under a shell.
func TestWritePortVariables(t *testing.T) {
	h := scaffold.Hints{Name: "notes", Command: []string{"serve", "--bind", "0.0.0.0:$PORT", "--port=${PORT}", "--home=${HOME}", `say "hi"`}}
	bp, err := blueprint.Parse(blueprint.FileName, scaffold.Write(h))
	if err != nil {
		t.Fatal(err)
	}
	got := bp.Services["web"].Command
	want := []string{"serve", "--bind", "${listen}", "--port=${port}", "--home=$${HOME}", `say "hi"`}
	if !slices.Equal(got, want) {
		t.Errorf("command = %q, want %q", got, want)
	}
}
