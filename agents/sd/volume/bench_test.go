package volume

import (
	"fmt"
	"os"
	"testing"
)

// rotateEvery bounds the disk a benchmark uses: the volume is replaced once
// it grows past this (with the timer stopped).
const rotateEvery = 512 << 20

func BenchmarkSessionAdd(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10} {
		b.Run(fmt.Sprintf("rec=%dKiB", size>>10), func(b *testing.B) {
			benchAdd(b, size)
		})
	}
}

func benchAdd(b *testing.B, size int) {
	dir := b.TempDir()
	rec := make([]byte, size)
	for i := range rec {
		rec[i] = byte(i * 7)
	}
	v, s := benchSession(b, dir, 0)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Add(rec); err != nil {
			b.Fatal(err)
		}
		if v.size > rotateEvery {
			b.StopTimer()
			endBench(b, v, s)
			v, s = benchSession(b, dir, i)
			b.StartTimer()
		}
	}
	b.StopTimer()
	endBench(b, v, s)
}

func benchSession(b *testing.B, dir string, n int) (*Volume, *Session) {
	v, err := Create(dir, fmt.Sprintf("bench-%d", n))
	if err != nil {
		b.Fatal(err)
	}
	s, err := v.BeginSession(1, nil)
	if err != nil {
		b.Fatal(err)
	}
	return v, s
}

func endBench(b *testing.B, v *Volume, s *Session) {
	endSession(b, s)
	v.Close()
	os.Remove(v.path)
}

func endSession(b *testing.B, s *Session) {
	if _, err := s.End(SessionOK, Totals{}, nil); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkReadSession(b *testing.B) {
	dir := b.TempDir()
	v, s := benchSession(b, dir, 0)
	rec := make([]byte, 64<<10)
	for range 1024 { // 64 MiB
		s.Add(rec)
	}
	endSession(b, s)
	v.Close()
	r, err := OpenReader(v.path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.SetBytes(64 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadSession(1, s.StartOffset(), func(Position, []byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
