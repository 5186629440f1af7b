export * from './database.config';
export * from './database.module';
export * from './migrations';
