package local

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// tailChunk is how much of a log a tail reads at a time, from the end.
const tailChunk = 64 << 10

// Bounds of how far back from the end a tail of n lines reads: n lines
// of up to tailBytesPerLine bytes, at least minTailBytes and at most
// maxTailBytes. Where the bound cuts a line, that line is left out whole
// (a cut line could hold the end of a secret without its start, which
// redaction would not recognize).
const (
	tailBytesPerLine = 16 << 10
	minTailBytes     = 256 << 10
	maxTailBytes     = 16 << 20
)

// logSpan is the files of one log, oldest first, read as one stream up
// to the sizes they had when opened.
type logSpan struct {
	files []*os.File
	sizes []int64
	total int64
}

// openSpan opens the files at paths that exist.
func openSpan(paths []string) (*logSpan, error) {
	s := &logSpan{}
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil {
				s.files = append(s.files, f)
				s.sizes = append(s.sizes, fi.Size())
				s.total += fi.Size()
				continue
			}
			f.Close()
		}
		s.Close()
		return nil, err
	}
	return s, nil
}

// ReadAt reads the stream at off. A file that shrank since it was opened
// (rotated meanwhile) ends the stream early.
func (s *logSpan) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for i, f := range s.files {
		if off >= s.sizes[i] {
			off -= s.sizes[i]
			continue
		}
		want := min(int64(len(p)-n), s.sizes[i]-off)
		m, err := f.ReadAt(p[n:n+int(want)], off)
		n += m
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		if int64(m) < want || n == len(p) {
			break
		}
		off = 0
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close closes the files.
func (s *logSpan) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// tailStart returns where the last n lines of the stream start, n > 0,
// reading it backwards a chunk at a time and no further back than the
// bounds above allow.
func (s *logSpan) tailStart(n int) (int64, error) {
	limit := max(s.total-min(max(int64(n)*tailBytesPerLine, minTailBytes), maxTailBytes), 0)
	buf := make([]byte, tailChunk)
	found, first := 0, int64(-1) // newlines seen; the lowest one's offset
	for pos := s.total; pos > limit; {
		lo := max(limit, pos-tailChunk)
		chunk := buf[:pos-lo]
		if m, err := s.ReadAt(chunk, lo); err != nil && !(errors.Is(err, io.EOF) && m == len(chunk)) {
			return 0, err
		}
		for j := len(chunk) - 1; j >= 0; j-- {
			off := lo + int64(j)
			if chunk[j] != '\n' || off == s.total-1 { // the last line's own newline
				continue
			}
			if found++; found == n {
				return off + 1, nil
			}
			first = off
		}
		pos = lo
	}
	switch {
	case limit == 0:
		return 0, nil
	case first >= 0:
		return first + 1, nil
	default:
		return s.total, nil // one line longer than the bound: none whole
	}
}

// spanReader reads a section of a logSpan and closes it.
type spanReader struct {
	*io.SectionReader
	span *logSpan
}

func (r *spanReader) Close() error { return r.span.Close() }

// readLog returns the log at path with its rotated files (files in all),
// oldest first, or with tail > 0 its last tail lines, and the size of the
// log at path (not its rotated files) as read.
func readLog(path string, files, tail int) (*spanReader, int64, error) {
	span, err := openSpan(logFiles(path, files))
	if err != nil {
		return nil, 0, err
	}
	var start int64
	if tail > 0 {
		if start, err = span.tailStart(tail); err != nil {
			span.Close()
			return nil, 0, err
		}
	}
	var current int64
	if k := len(span.files); k > 0 && span.files[k-1].Name() == path {
		current = span.sizes[k-1]
	}
	return &spanReader{SectionReader: io.NewSectionReader(span, start, span.total-start), span: span}, current, nil
}
