/**
 * The one place that listens to the keyboard (a single Ink `useInput`) and hands each key to the
 * KeyDispatcher: components register handlers with a priority instead of calling useInput.
 */
import { useInput } from 'ink';
import { createContext, useContext, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { KeyDispatcher, toKeyPress, type KeyHandler, type KeyPriority } from '../keymap.js';

const DispatcherContext = createContext<KeyDispatcher | undefined>(undefined);

export function KeyboardProvider({ children }: { children: ReactNode }) {
  const [dispatcher] = useState(() => new KeyDispatcher());
  // The handler identity is stable so Ink never re-subscribes (which could drop a key in between).
  const dispatchRef = useRef((input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]) => {
    dispatcher.dispatch(toKeyPress(input, key));
  });
  useInput(dispatchRef.current);
  return <DispatcherContext.Provider value={dispatcher}>{children}</DispatcherContext.Provider>;
}

/**
 * Registers `handler` while `active`. The latest handler closure is always used, without
 * re-registering on every render (which would also change its order among equals).
 */
export function useKeyHandler(priority: KeyPriority, handler: KeyHandler, active = true): void {
  const dispatcher = useContext(DispatcherContext);
  if (!dispatcher) throw new Error('useKeyHandler must be used inside <KeyboardProvider>');
  const latest = useRef(handler);
  latest.current = handler;
  // A layout effect runs within the commit that shows the component: once a dialog is on screen,
  // its handler already takes the next key (a passive effect may run only after that key arrived).
  useLayoutEffect(() => {
    if (!active) return undefined;
    return dispatcher.register(priority, (press) => latest.current(press));
  }, [dispatcher, priority, active]);
}
